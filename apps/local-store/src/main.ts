import { ALL_TOPICS, SERVICES, TOPICS } from '@cap/contracts';
import { applySchemaDdl, createDataHandlers, loadServiceSchemas } from '@cap/campaign-persistence';
import { runDataService } from '@cap/platform-data-service';
import { findAppFolder, runMain } from '@cap/platform-runtime';
import { loadLocalStoreConfig } from './config';
import { createEventHandlers } from './events/event.handlers';
import { createOperatorHandlers } from './operators/operator.handlers';
import { createOptionHandlers } from './options/option.handlers';
import { seedDevelopmentData } from './seed/dev.seed';

/**
 * local-store owns the local database: configuration objects, the …Stg staging tables, the real-time
 * event queue and the outbox. It answers requests for local, replicated and staging schemas.
 */
runMain(() => {
  const config = loadLocalStoreConfig(process.env);
  const schemas = loadServiceSchemas(__dirname, config.SCHEMA_DIRS);
  runDataService({
    service: SERVICES.localStore,
    config,
    database: { label: 'local', url: config.LOCAL_DATABASE_URL, migrationsDir: findAppFolder(__dirname, 'migrations') },
    topics: ALL_TOPICS,
    requestTopic: TOPICS.localStoreRequests,
    async prepare({ pool, base }) {
      if (config.MIGRATE_ON_START) await applySchemaDdl(pool, schemas, 'local', base.logger);
      if (config.DEV_SEED) await seedDevelopmentData(pool, schemas, { adminPassword: config.DEV_ADMIN_PASSWORD, mcPassword: config.DEV_MC_PASSWORD }, base.logger);
    },
    createHandlers: ({ pool }) => ({
      ...createDataHandlers({ pool, schemas, database: 'local', limits: { defaultLineCount: config.QUERY_DEFAULT_LINE_COUNT, maxLineCount: config.QUERY_MAX_LINE_COUNT } }),
      ...createEventHandlers({ pool, schemas, cell: config.EVENT_CELL_ID }),
      ...createOperatorHandlers({ pool }),
      ...createOptionHandlers({ pool }),
    }),
  });
});
