import { field, loadConfig, serviceConfigShape } from '@cap/platform-config';

const shape = {
  ...serviceConfigShape({ httpPort: 8081 }),
  LOCAL_DATABASE_URL: field.url(['postgres', 'postgresql'], 'postgres://postgres@127.0.0.1:5432/cap_local'),
  DB_POOL_MAX: field.positiveInt(10),
  MIGRATE_ON_START: field.boolean(true),
  KAFKA_ENSURE_TOPICS: field.boolean(true),
};

export type LocalStoreConfig = ReturnType<typeof loadLocalStoreConfig>;

export function loadLocalStoreConfig(env: Record<string, string | undefined>) {
  return loadConfig('local-store', shape, env);
}
