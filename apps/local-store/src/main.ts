import { ALL_TOPICS, SERVICES, TOPICS } from '@cap/contracts';
import { runDataService } from '@cap/platform-data-service';
import { findAppFolder, runMain } from '@cap/platform-runtime';
import { loadLocalStoreConfig } from './config';

/**
 * local-store owns the local database: configuration objects, the …Stg staging tables, the real-time
 * event queue and the outbox. It answers requests for local, replicated and staging schemas.
 */
runMain(() => {
  const config = loadLocalStoreConfig(process.env);
  runDataService({
    service: SERVICES.localStore,
    config,
    database: { label: 'local', url: config.LOCAL_DATABASE_URL, migrationsDir: findAppFolder(__dirname, 'migrations') },
    topics: ALL_TOPICS,
    requestTopic: TOPICS.localStoreRequests,
    createHandlers: () => ({}),
  });
});
