/**
 * Prepares a deployment's data stores: creates and migrates the local and cloud databases and creates every
 * Kafka topic (with .dlq twins). Idempotent; run by `npm start` and usable on its own:
 *   npx tsx infra/src/bootstrap.ts
 * Configuration comes from the same environment variables the services read.
 */
import { join } from 'node:path';
import { ALL_TOPICS } from '@cap/contracts';
import { field, loadConfig, serviceConfigShape } from '@cap/platform-config';
import { openDatabase } from '@cap/platform-postgres';
import { createServiceBase, runMain } from '@cap/platform-runtime';

const ROOT = join(__dirname, '..', '..');

async function bootstrap(): Promise<void> {
  const config = loadConfig(
    'bootstrap',
    {
      ...serviceConfigShape({ httpPort: 0 }),
      LOCAL_DATABASE_URL: field.url(['postgres', 'postgresql'], 'postgres://postgres@127.0.0.1:5432/cap_local'),
      CLOUD_DATABASE_URL: field.url(['postgres', 'postgresql'], 'postgres://postgres@127.0.0.1:5432/cap_cloud'),
    },
    process.env,
  );
  const { logger, messaging, instanceId } = createServiceBase('bootstrap', config);
  const databases = [
    { database: 'local', url: config.LOCAL_DATABASE_URL, migrationsDir: join(ROOT, 'apps', 'local-store', 'migrations') },
    { database: 'cloud', url: config.CLOUD_DATABASE_URL, migrationsDir: join(ROOT, 'apps', 'cloud-executor', 'migrations') },
  ];
  for (const db of databases) {
    const pool = await openDatabase({ ...db, poolMax: 1, applicationName: instanceId, logger });
    await pool.end();
  }
  await messaging.ensureTopics(ALL_TOPICS);
  await messaging.close();
  logger.info({ event: 'bootstrap.completed', topics: ALL_TOPICS.length }, 'databases migrated, topics created');
  logger.flush();
}

runMain(() => {
  bootstrap().catch((err: unknown) => {
    process.stderr.write(`bootstrap failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
});
