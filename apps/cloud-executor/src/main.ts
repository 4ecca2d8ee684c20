import { loadServiceSchemas } from '@cap/campaign-files';
import { applySchemaDdl } from '@cap/campaign-postgres';
import { createDataHandlers, createPageCursorCache } from '@cap/campaign-rpc';
import { ALL_TOPICS, SERVICES, TOPICS } from '@cap/contracts';
import { runDataService } from '@cap/platform-data-service';
import { findAppFolder, runMain } from '@cap/platform-runtime';
import { loadCloudExecutorConfig } from './config';
import { createQueryPageMetrics } from './query-page.metrics';
import { createDeliveryModule } from './delivery/delivery.module';
import { MESSAGE_CENTER_CONSUMER } from './message-center/event.consumer';
import { createWorkflowModule } from './workflow/workflow.module';

/**
 * cloud-executor owns the cloud database (customer data, delivery logs, tracking) and runs the batch work:
 * queries on cloud schemas, workflows, deliveries, message center.
 */
runMain(() => {
  const config = loadCloudExecutorConfig(process.env);
  const schemas = loadServiceSchemas(__dirname, config.SCHEMA_DIRS);
  const deliveries = createDeliveryModule(config, schemas);
  const workflows = createWorkflowModule(config, { schemas, deliveries: () => deliveries.actions() });
  runDataService({
    service: SERVICES.cloudExecutor,
    config,
    database: { label: 'cloud', url: config.CLOUD_DATABASE_URL, migrationsDir: findAppFolder(__dirname, 'migrations') },
    topics: ALL_TOPICS,
    requestTopic: TOPICS.cloudExecutorRequests,
    quarantineConsumers: [MESSAGE_CENTER_CONSUMER],
    async prepare(ctx) {
      if (config.MIGRATE_ON_START) await applySchemaDdl(ctx.pool, schemas, 'cloud', ctx.base.logger);
      await workflows.prepare(ctx);
      await deliveries.prepare(ctx);
    },
    createHandlers: (ctx) => ({
      ...createDataHandlers({
        keyset: {
          cursors: createPageCursorCache({ maxEntries: config.QUERY_KEYSET_CACHE_SIZE, ttlMs: config.QUERY_KEYSET_CACHE_TTL_MS }),
          onPage: createQueryPageMetrics(ctx.base.registry),
        },
        pool: ctx.pool,
        schemas,
        database: 'cloud',
        limits: {
          defaultLineCount: config.QUERY_DEFAULT_LINE_COUNT,
          maxLineCount: config.QUERY_MAX_LINE_COUNT,
          cursorFetchRows: config.QUERY_CURSOR_FETCH_ROWS,
        },
      }),
      ...workflows.createHandlers(),
      ...deliveries.createHandlers(ctx),
    }),
    startWorkers: async (ctx) => [...(await workflows.startWorkers(ctx)), ...(await deliveries.startWorkers(ctx))],
  });
});
