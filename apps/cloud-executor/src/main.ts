import { ALL_TOPICS, SERVICES, TOPICS } from '@cap/contracts';
import { runDataService } from '@cap/platform-data-service';
import { findAppFolder, runMain } from '@cap/platform-runtime';
import { loadCloudExecutorConfig } from './config';

/**
 * cloud-executor owns the cloud database (customer data, delivery logs, tracking) and runs the batch work:
 * queries on cloud schemas, workflows, deliveries, message center.
 */
runMain(() => {
  const config = loadCloudExecutorConfig(process.env);
  runDataService({
    service: SERVICES.cloudExecutor,
    config,
    database: { label: 'cloud', url: config.CLOUD_DATABASE_URL, migrationsDir: findAppFolder(__dirname, 'migrations') },
    topics: ALL_TOPICS,
    requestTopic: TOPICS.cloudExecutorRequests,
    createHandlers: () => ({}),
  });
});
