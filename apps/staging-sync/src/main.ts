import { checkPool, createPool } from '@cap/platform-postgres';
import { createServiceBase, runMain, runService, startServiceHttp } from '@cap/platform-runtime';
import { loadStagingSyncConfig } from './config';

/**
 * staging-sync owns no data: it moves staged and replicated rows from Kafka into the cloud database.
 * Workers scale horizontally in one consumer group (up to the staging topics' partition count).
 */
function main(): void {
  const config = loadStagingSyncConfig(process.env);
  const base = createServiceBase('staging-sync', config);
  const { logger, messaging } = base;

  void runService({
    name: 'staging-sync',
    logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    async start(state) {
      const cloudPool = createPool({ url: config.CLOUD_DATABASE_URL, max: config.DB_POOL_MAX, applicationName: base.instanceId, logger });
      const http = await startServiceHttp(base, config, {
        state,
        checks: [
          { name: 'cloud-postgres', check: () => checkPool(cloudPool) },
          { name: 'kafka', check: () => messaging.checkHealth() },
        ],
      });
      return {
        async stop() {
          await http.close(2_000);
          await messaging.close();
          await cloudPool.end();
        },
      };
    },
  });
}

runMain(main);
