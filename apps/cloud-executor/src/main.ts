import { join } from 'node:path';
import { loadServiceSchemaSources } from '@cap/campaign-files';
import { applySchemaDdl, readAuthoredSchemas } from '@cap/campaign-postgres';
import { createSchemaCatalog } from '@cap/campaign-schema';
import { createDataHandlers, createPageCursorCache } from '@cap/campaign-rpc';
import { ALL_TOPICS, SERVICES, TOPICS } from '@cap/contracts';
import { openDataService } from '@cap/platform-data-service';
import { loadMigrations, migrate } from '@cap/platform-postgres';
import { createServiceBase, findAppFolder, runMain, runService } from '@cap/platform-runtime';
import { createChannelRegistry } from './channels/channel.registry';
import { loadCloudExecutorConfig } from './config';
import { createDeliveryModule } from './delivery/delivery.module';
import { MESSAGE_CENTER_CONSUMER } from './message-center/event.consumer';
import { createMessageCenterModule } from './message-center/message-center.module';
import { createQueryPageMetrics } from './query-page.metrics';
import { createSchemaDdlModule } from './schemas/schema-ddl.module';
import { createWorkflowModule } from './workflow/workflow.module';

/**
 * cloud-executor owns the cloud database (customer data, delivery logs, tracking) and runs the batch work:
 * queries on cloud schemas, workflows, deliveries, message center.
 *
 * Read top to bottom: configuration → clients (service base, database, channels) → stores → modules and their
 * workers → RPC and HTTP (libs/platform/data-service/src/data-service.runner.ts) → stop, on SIGTERM.
 */
function main(): void {
  // Configuration.
  const config = loadCloudExecutorConfig(process.env);
  // The schema files; the source schemas authored at run time are compiled over them once the database is open.
  const catalog = createSchemaCatalog(loadServiceSchemaSources(__dirname, config.SCHEMA_DIRS));
  const { schemas } = catalog;
  const migrationsDir = findAppFolder(__dirname, 'migrations');
  // Clients: logger, metrics and Kafka messaging.
  const base = createServiceBase(SERVICES.cloudExecutor, config);
  const { logger, registry } = base;

  void runService({
    name: SERVICES.cloudExecutor,
    logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    async start(state) {
      // Clients: the cloud database, migrated, with its quarantine; then the schemas' tables, and the migrations
      // that need them (migrations/after-schema: they run after the schema DDL, the others before it).
      const service = await openDataService(base, config, { database: { label: 'cloud', url: config.CLOUD_DATABASE_URL, migrationsDir }, topics: ALL_TOPICS });
      const { pool, quarantine } = service;
      try {
        // Source schemas authored at run time, as this database keeps them (docs/schema-authoring.md).
        catalog.upsertAuthored(await readAuthoredSchemas(pool));
        if (config.MIGRATE_ON_START) {
          await applySchemaDdl(pool, schemas, 'cloud', logger);
          await migrate(pool, { database: 'cloud', migrations: await loadMigrations(join(migrationsDir, 'after-schema'), 'after-schema/'), logger });
        }
        // The channels deliveries and the message center send through (closed after both have stopped).
        const channels = createChannelRegistry(config, { logger, registry });

        // Stores.
        const cursors = createPageCursorCache({ maxEntries: config.QUERY_KEYSET_CACHE_SIZE, ttlMs: config.QUERY_KEYSET_CACHE_TTL_MS });

        // Modules and workers (running from here on). Deliveries first: workflow delivery activities use their actions.
        const deliveries = await createDeliveryModule({ config, schemas, base, pool, channels });
        const messageCenter = await createMessageCenterModule({ config, base, pool, quarantine, channels });
        const workflows = await createWorkflowModule({ config, schemas, base, pool, deliveries: deliveries.actions });
        const schemaDdl = await createSchemaDdlModule({ base, pool, catalog });

        // Transports: RPC and HTTP. Shutdown stops the workers in reverse order (the message center, deliveries,
        // the channels, then the workflow timer, activities and RPC client), then RPC, HTTP, messaging, the pool.
        return await service.serve({
          state,
          requestTopic: TOPICS.cloudExecutorRequests,
          handlers: {
            ...createDataHandlers({
              keyset: { cursors, onPage: createQueryPageMetrics(registry) },
              pool,
              schemas,
              database: 'cloud',
              limits: {
                defaultLineCount: config.QUERY_DEFAULT_LINE_COUNT,
                maxLineCount: config.QUERY_MAX_LINE_COUNT,
                cursorFetchRows: config.QUERY_CURSOR_FETCH_ROWS,
              },
            }),
            ...workflows.rpcHandlers,
            ...deliveries.rpcHandlers,
            ...schemaDdl.rpcHandlers,
          },
          workers: [
            ...schemaDdl.workers,
            ...workflows.workers,
            { name: 'channels', stop: () => channels.close() },
            ...deliveries.workers,
            ...messageCenter.workers,
          ],
          quarantineConsumers: [MESSAGE_CENTER_CONSUMER],
        });
      } catch (err) {
        await service.close(); // the process exits next (runService)
        throw err;
      }
    },
  });
}

runMain(main);
