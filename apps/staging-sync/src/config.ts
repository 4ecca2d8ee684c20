import { field, loadConfig, serviceConfigShape } from '@cap/platform-config';

const shape = {
  ...serviceConfigShape({ httpPort: 8082 }),
  /** The cloud database staged rows are written to (its schema is migrated by cloud-executor). */
  CLOUD_DATABASE_URL: field.url(['postgres', 'postgresql'], 'postgres://postgres@127.0.0.1:5432/cap_cloud'),
  DB_POOL_MAX: field.positiveInt(4),
};

export type StagingSyncConfig = ReturnType<typeof loadStagingSyncConfig>;

export function loadStagingSyncConfig(env: Record<string, string | undefined>) {
  return loadConfig('staging-sync', shape, env);
}
