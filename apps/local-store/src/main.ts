import { ALL_TOPICS, SERVICES, TOPICS } from '@cap/contracts';
import { loadServiceSchemas } from '@cap/campaign-files';
import { applySchemaDdl } from '@cap/campaign-postgres';
import { createDataHandlers } from '@cap/campaign-rpc';
import { runDataService } from '@cap/platform-data-service';
import { checkRedis, createRedis } from '@cap/platform-redis';
import { findAppFolder, runMain } from '@cap/platform-runtime';
import { loadLocalStoreConfig } from './config';
import { CLOUD_STATES_QUARANTINE_NAMES, startCloudStatesConsumer } from './cloud-states.consumer';
import { createEventHandlers } from './events/event.handlers';
import { createOperatorHandlers } from './operators/operator.handlers';
import { createOperatorRightsLookup } from './operators/operator.rights';
import { OPERATOR_TRIGGERS_SQL, startOperatorStatePublisher } from './operators/operator-state.publisher';
import { createOptionHandlers } from './options/option.handlers';
import { seedDevelopmentData } from './seed/dev.seed';
import { installOutboxTriggers } from './staging/outbox.triggers';
import { startOutboxRelay, type OutboxRelay } from './staging/outbox.relay';
import { schemaKeyColumns } from './staging/staging.router';
import { StagingRouting } from './staging/staging.routing';
import { createStagingHandlers, registerStagingMetrics, startStagingPurge } from './staging/staging.control';
import { stagingSources } from './staging/staging.sources';
import { startOutboxReplayer } from './staging/outbox.replayer';
import { startSyncAckConsumer, SYNC_ACK_CONSUMER } from './staging/sync-ack.consumer';
import { createSubscriptionHandlers } from './subscriptions/subscription.handlers';

/** How often the relay asks which of the changes it tracks staging-sync has applied. */
const ROUTE_REFRESH_MS = 100;

/**
 * local-store owns the local database: configuration objects, the …Stg staging tables, the real-time
 * event queue and the outbox. It answers requests for local, replicated and staging schemas.
 */
runMain(() => {
  const config = loadLocalStoreConfig(process.env);
  const schemas = loadServiceSchemas(__dirname, config.SCHEMA_DIRS);
  const sources = stagingSources(schemas);
  let relay: OutboxRelay | undefined;
  runDataService({
    service: SERVICES.localStore,
    config,
    database: { label: 'local', url: config.LOCAL_DATABASE_URL, migrationsDir: findAppFolder(__dirname, 'migrations') },
    topics: ALL_TOPICS,
    requestTopic: TOPICS.localStoreRequests,
    quarantineConsumers: [SYNC_ACK_CONSUMER, ...CLOUD_STATES_QUARANTINE_NAMES],
    async prepare({ pool, base }) {
      if (config.MIGRATE_ON_START) {
        await applySchemaDdl(pool, schemas, 'local', base.logger);
        await installOutboxTriggers(pool, schemas, base.logger);
        await pool.query(OPERATOR_TRIGGERS_SQL);
      }
      if (config.DEV_SEED) await seedDevelopmentData(pool, schemas, { adminPassword: config.DEV_ADMIN_PASSWORD, mcPassword: config.DEV_MC_PASSWORD }, base.logger);
    },
    createHandlers: ({ pool }) => ({
      ...createDataHandlers({
        pool,
        schemas,
        database: 'local',
        limits: { defaultLineCount: config.QUERY_DEFAULT_LINE_COUNT, maxLineCount: config.QUERY_MAX_LINE_COUNT },
        groupCommit: { maxBatch: config.WRITE_GROUP_MAX, maxConcurrent: config.WRITE_GROUP_CONCURRENCY },
        operatorRights: createOperatorRightsLookup(pool),
      }),
      ...createEventHandlers({ pool, schemas, cell: config.EVENT_CELL_ID }),
      ...createOperatorHandlers({ pool }),
      ...createOptionHandlers({ pool }),
      ...createSubscriptionHandlers({ pool, schemas }),
      ...createStagingHandlers({ pool, sources, wakeRelay: () => relay?.wake(), flushWaitMs: config.STAGING_FLUSH_WAIT_MS }),
    }),
    async startWorkers({ pool, base, quarantine }) {
      const quarantineOptions = { store: quarantine, retryBudgetMs: config.QUARANTINE_RETRY_BUDGET_MS };
      registerStagingMetrics(base.registry, pool, sources, base.logger);
      const routing = new StagingRouting(sources, schemaKeyColumns(schemas), { maxLive: config.OUTBOX_MAX_LIVE_CHANGES, refreshMs: ROUTE_REFRESH_MS, registry: base.registry });
      relay = startOutboxRelay({
        pool,
        messaging: base.messaging,
        logger: base.logger,
        registry: base.registry,
        batchSize: config.OUTBOX_BATCH_SIZE,
        idleMs: config.OUTBOX_POLL_MS,
        lingerMs: config.OUTBOX_LINGER_MS,
        routing,
        quarantine,
      });
      const outboxReplayer = startOutboxReplayer({ pool, logger: base.logger, wake: () => relay?.wake() });
      const acks = await startSyncAckConsumer({ pool, messaging: base.messaging, sources, quarantine: quarantineOptions });
      const purge = startStagingPurge({ pool, sources, retentionMs: config.STAGING_RETENTION_SECONDS * 1000, intervalMs: config.STAGING_PURGE_INTERVAL_MS, logger: base.logger });
      const outbox = relay;
      const cloudStates = await startCloudStatesConsumer({ pool, messaging: base.messaging, logger: base.logger, quarantine: quarantineOptions });
      const redis = await createRedis({ url: config.REDIS_URL, logger: base.logger });
      const operatorStates = startOperatorStatePublisher({ pool, redis, keyPrefix: config.REDIS_KEY_PREFIX, ttlMs: config.OPERATOR_STATE_TTL_MS, logger: base.logger });
      return [
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
        { name: 'outbox-relay', check: () => outbox.check(), stop: () => outbox.stop() },
        { name: 'outbox-replayer', stop: () => outboxReplayer.stop() },
        { name: 'staging-acks', check: () => acks.checkHealth(), stop: () => acks.stop() },
        { name: 'staging-purge', stop: () => purge.stop() },
        { name: 'cloud-states', stop: () => cloudStates.stop() },
      ];
    },
  });
});
