import { ALL_TOPICS, SERVICES, TOPICS } from '@cap/contracts';
import { loadServiceSchemaSources } from '@cap/campaign-files';
import { applySchemaDdl, readAuthoredSchemas } from '@cap/campaign-postgres';
import { createSchemaCatalog } from '@cap/campaign-schema';
import { createDataHandlers } from '@cap/campaign-rpc';
import { openDataService } from '@cap/platform-data-service';
import { checkRedis, createRedis } from '@cap/platform-redis';
import { createServiceBase, findAppFolder, runMain, runService } from '@cap/platform-runtime';
import { loadLocalStoreConfig } from './config';
import { CLOUD_STATES_QUARANTINE_NAMES, startCloudStatesConsumer } from './cloud-states.consumer';
import { createEventRpcHandlers } from './events/event.rpc-handlers';
import { createFileRpcHandlers } from './files/file.rpc-handlers';
import { createOperatorRpcHandlers } from './operators/operator.rpc-handlers';
import { createOperatorRightsLookup } from './operators/operator.rights';
import { OPERATOR_TRIGGERS_SQL, startOperatorStatePublisher } from './operators/operator-state.publisher';
import { createOptionRpcHandlers } from './options/option.rpc-handlers';
import { createSchemaSourceModule } from './schemas/schema-source.module';
import { seedDevelopmentData } from './seed/dev.seed';
import { seedInstallData } from './seed/install.seed';
import { FOLDER_TRIGGERS_SQL } from './folders/folder.triggers';
import { createSequenceRpcHandlers } from './sequences/sequence.rpc-handlers';
import { installOutboxTriggers } from './staging/outbox.triggers';
import { createStagingModule } from './staging/staging.module';
import { stagingSources } from './staging/staging.sources';
import { SYNC_ACK_CONSUMER } from './staging/sync-ack.consumer';
import { createSubscriptionRpcHandlers } from './subscriptions/subscription.rpc-handlers';

/**
 * local-store owns the local database: configuration objects, the …Stg staging tables, the real-time
 * event queue and the outbox. It answers requests for local, replicated and staging schemas.
 *
 * Read top to bottom: configuration → clients (service base, database, Redis) → stores → modules and their
 * workers → RPC and HTTP (libs/platform/data-service/src/data-service.runner.ts) → stop, on SIGTERM.
 */
function main(): void {
  // Configuration.
  const config = loadLocalStoreConfig(process.env);
  // The schema files; the source schemas authored at run time are compiled over them once the database is open.
  const catalog = createSchemaCatalog(loadServiceSchemaSources(__dirname, config.SCHEMA_DIRS));
  const { schemas } = catalog;
  // Clients: logger, metrics and Kafka messaging.
  const base = createServiceBase(SERVICES.localStore, config);
  const { logger, messaging } = base;

  void runService({
    name: SERVICES.localStore,
    logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    async start(state) {
      // Clients: the local database, migrated, with its quarantine; then the schemas' tables, triggers and seed data.
      const service = await openDataService(base, config, {
        database: { label: 'local', url: config.LOCAL_DATABASE_URL, migrationsDir: findAppFolder(__dirname, 'migrations') },
        topics: ALL_TOPICS,
      });
      const { pool, quarantine } = service;
      try {
        // Source schemas authored at run time (docs/schema-authoring.md): compiled before any DDL or module uses them.
        catalog.upsertAuthored(await readAuthoredSchemas(pool));
        const sources = stagingSources(schemas);
        if (config.MIGRATE_ON_START) {
          await applySchemaDdl(pool, schemas, 'local', logger);
          await installOutboxTriggers(pool, schemas, logger);
          await pool.query(OPERATOR_TRIGGERS_SQL);
          await pool.query(FOLDER_TRIGGERS_SQL);
          await seedInstallData(pool, schemas, logger);
        }
        if (config.DEV_SEED) await seedDevelopmentData(pool, schemas, { adminPassword: config.DEV_ADMIN_PASSWORD, mcPassword: config.DEV_MC_PASSWORD }, logger);
        const redis = await createRedis({ url: config.REDIS_URL, logger });

        // Stores.
        const operatorRights = createOperatorRightsLookup(pool);

        // Modules and workers (running from here on).
        const staging = await createStagingModule({ config, schemas, sources, base, pool, quarantine });
        const schemaSources = await createSchemaSourceModule({ base, pool, catalog, ddlTimeoutMs: config.SCHEMA_DDL_TIMEOUT_MS });
        const cloudStates = await startCloudStatesConsumer({
          pool,
          messaging,
          logger,
          quarantine: { store: quarantine, retryBudgetMs: config.QUARANTINE_RETRY_BUDGET_MS },
        });
        const operatorStates = startOperatorStatePublisher({ pool, redis, keyPrefix: config.REDIS_KEY_PREFIX, ttlMs: config.OPERATOR_STATE_TTL_MS, logger });

        // Transports: RPC and HTTP. Shutdown stops the workers in reverse order, then RPC, HTTP, messaging, the pool.
        return await service.serve({
          state,
          requestTopic: TOPICS.localStoreRequests,
          handlers: {
            ...createDataHandlers({
              pool,
              schemas,
              database: 'local',
              limits: { defaultLineCount: config.QUERY_DEFAULT_LINE_COUNT, maxLineCount: config.QUERY_MAX_LINE_COUNT },
              groupCommit: { maxBatch: config.WRITE_GROUP_MAX, maxConcurrent: config.WRITE_GROUP_CONCURRENCY },
              operatorRights,
            }),
            ...createEventRpcHandlers({
              pool,
              schemas,
              cell: config.EVENT_CELL_ID,
              groupCommit: { maxBatch: config.WRITE_GROUP_MAX, maxConcurrent: config.WRITE_GROUP_CONCURRENCY },
            }),
            ...createOperatorRpcHandlers({ pool }),
            ...createOptionRpcHandlers({ pool }),
            ...createSequenceRpcHandlers({ pool, schemas }),
            ...createSubscriptionRpcHandlers({ pool, schemas }),
            ...staging.rpcHandlers,
            ...createFileRpcHandlers({ pool, operatorRights }),
            ...schemaSources.rpcHandlers,
          },
          workers: [
            {
              name: 'operator-states',
              check: async () => {
                await checkRedis(redis);
                await operatorStates.check();
              },
              stop: async () => {
                await operatorStates.stop();
                await redis.close().catch(() => undefined);
              },
            },
            ...staging.workers,
            { name: 'cloud-states', stop: () => cloudStates.stop() },
            ...schemaSources.workers,
          ],
          quarantineConsumers: [SYNC_ACK_CONSUMER, ...CLOUD_STATES_QUARANTINE_NAMES],
        });
      } catch (err) {
        await service.close(); // the process exits next (runService)
        throw err;
      }
    },
  });
}

runMain(main);
