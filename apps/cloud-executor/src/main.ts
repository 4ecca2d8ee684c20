import { ALL_TOPICS, SERVICES, TOPICS } from '@cap/contracts';
import { startRpcServer } from '@cap/platform-kafka';
import { checkPool, openDatabase } from '@cap/platform-postgres';
import { createServiceBase, findAppFolder, runMain, runService, startServiceHttp } from '@cap/platform-runtime';
import { loadCloudExecutorConfig } from './config';
import { createSystemHandlers } from './system.handlers';

function main(): void {
  const config = loadCloudExecutorConfig(process.env);
  const base = createServiceBase(SERVICES.cloudExecutor, config);
  const { logger, messaging } = base;

  void runService({
    name: SERVICES.cloudExecutor,
    logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    async start(state) {
      const pool = await openDatabase({
        database: 'cloud',
        url: config.CLOUD_DATABASE_URL,
        poolMax: config.DB_POOL_MAX,
        applicationName: base.instanceId,
        logger,
        ...(config.MIGRATE_ON_START ? { migrationsDir: findAppFolder(__dirname, 'migrations') } : {}),
      });
      if (config.KAFKA_ENSURE_TOPICS) await messaging.ensureTopics(ALL_TOPICS);
      const rpc = await startRpcServer(messaging, {
        service: SERVICES.cloudExecutor,
        requestTopic: TOPICS.cloudExecutorRequests,
        groupId: SERVICES.cloudExecutor,
        handlers: createSystemHandlers({ instanceId: base.instanceId, cloudPool: pool }),
      });
      const http = await startServiceHttp(base, config, {
        state,
        checks: [
          { name: 'postgres', check: () => checkPool(pool) },
          { name: 'kafka', check: () => messaging.checkHealth() },
          { name: 'rpc-consumer', check: () => rpc.checkHealth() },
        ],
      });
      return {
        async stop() {
          await rpc.stop(); // stop intake; waits for in-flight requests to finish and reply
          await http.close(2_000);
          await messaging.close();
          await pool.end();
        },
      };
    },
  });
}

runMain(main);
