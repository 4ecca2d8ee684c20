import { loadServiceSchemas } from '@cap/campaign-files';
import { ALL_TOPICS } from '@cap/contracts';
import { checkPool, createPgQuarantine, createPool, ensureQuarantineTable, registerQuarantineGauge } from '@cap/platform-postgres';
import { createServiceBase, runMain, runService, startQuarantineReplayer, startServiceHttp } from '@cap/platform-runtime';
import { loadStagingSyncConfig } from './config';
import { cloudTables } from './sync/cloud.tables';
import { startSyncWorker, SYNC_CONSUMER } from './sync/sync.worker';

/**
 * staging-sync owns no data: it moves staged and replicated rows from Kafka into the cloud database.
 * Workers scale horizontally in one consumer group (up to the staging topics' partition count).
 */
function main(): void {
  const config = loadStagingSyncConfig(process.env);
  const base = createServiceBase('staging-sync', config);
  const { logger, messaging } = base;
  const schemas = loadServiceSchemas(__dirname, config.SCHEMA_DIRS);
  const tables = cloudTables(schemas);
  // Sources local-store tracks: its staging schemas and the Subscribe/Unsubscribe requests (replicated rows are not acknowledged).
  const acknowledged = new Set([...[...schemas.values()].filter((s) => s.placement === 'staging').map((s) => s.id), 'cap_subscription_request']);

  void runService({
    name: 'staging-sync',
    logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    async start(state) {
      const cloudPool = createPool({ url: config.CLOUD_DATABASE_URL, max: config.DB_POOL_MAX, applicationName: base.instanceId, logger });
      await messaging.ensureTopics(ALL_TOPICS);
      // Changes that cannot be applied are set aside in the cloud database (their key's later changes held behind).
      await ensureQuarantineTable(cloudPool);
      const quarantine = createPgQuarantine(cloudPool);
      registerQuarantineGauge(base.registry, quarantine);
      const replayer = startQuarantineReplayer({ messaging, store: quarantine, consumers: [SYNC_CONSUMER], logger });
      const worker = await startSyncWorker({
        pool: cloudPool,
        messaging,
        logger,
        registry: base.registry,
        tables,
        acknowledged: (source) => acknowledged.has(source),
        maxBatchSize: config.SYNC_MAX_BATCH,
        maxWaitMs: config.SYNC_MAX_WAIT_MS,
        minBytes: config.SYNC_MIN_BATCH_BYTES,
        concurrency: config.SYNC_CONCURRENCY,
        breaker: { timeoutMs: config.CLOUD_BREAKER_TIMEOUT_MS, resetTimeoutMs: config.CLOUD_BREAKER_RESET_MS },
        quarantine: { store: quarantine, retryBudgetMs: config.QUARANTINE_RETRY_BUDGET_MS },
      });
      const http = await startServiceHttp(base, config, {
        state,
        checks: [
          { name: 'cloud-postgres', check: () => checkPool(cloudPool) },
          { name: 'kafka', check: () => messaging.checkHealth() },
          { name: 'sync-consumer', check: () => worker.checkHealth() },
        ],
      });
      return {
        async stop() {
          await replayer.stop();
          await worker.stop(); // in-flight batches finish and commit, or are left for the next owner
          await http.close(2_000);
          await messaging.close();
          await cloudPool.end();
        },
      };
    },
  });
}

runMain(main);
