import { applySchemaDdl, createDataHandlers, createPageCursorCache, loadServiceSchemas } from '@cap/campaign-persistence';
import { ALL_TOPICS, SERVICES, TOPICS } from '@cap/contracts';
import { runDataService } from '@cap/platform-data-service';
import { findAppFolder, runMain } from '@cap/platform-runtime';
import { loadCloudExecutorConfig } from './config';
import { createQueryPageMetrics } from './query-page.metrics';
import { createDeliveryModule } from './delivery/delivery.module';
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
    async prepare({ pool, base }) {
      if (config.MIGRATE_ON_START) await applySchemaDdl(pool, schemas, 'cloud', base.logger);
      await workflows.prepare({ pool, base });
      await deliveries.prepare({ pool, base });
    },
    createHandlers: ({ pool, base }) => ({
      ...createDataHandlers({
        keyset: {
          cursors: createPageCursorCache({ maxEntries: config.QUERY_KEYSET_CACHE_SIZE, ttlMs: config.QUERY_KEYSET_CACHE_TTL_MS }),
          onPage: createQueryPageMetrics(base.registry),
        },
        pool,
        schemas,
        database: 'cloud',
        limits: {
          defaultLineCount: config.QUERY_DEFAULT_LINE_COUNT,
          maxLineCount: config.QUERY_MAX_LINE_COUNT,
          cursorFetchRows: config.QUERY_CURSOR_FETCH_ROWS,
        },
      }),
      ...workflows.createHandlers(),
      ...deliveries.createHandlers({ pool, base }),
    }),
    startWorkers: async (ctx) => [...(await workflows.startWorkers(ctx)), ...(await deliveries.startWorkers(ctx))],
  });
});
