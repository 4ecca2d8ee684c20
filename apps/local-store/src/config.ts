import { field, loadConfig, serviceConfigShape } from '@cap/platform-config';

const shape = {
  ...serviceConfigShape({ httpPort: 8081 }),
  LOCAL_DATABASE_URL: field.url(['postgres', 'postgresql'], 'postgres://postgres@127.0.0.1:5432/cap_local'),
  DB_POOL_MAX: field.positiveInt(10),
  MIGRATE_ON_START: field.boolean(true),
  KAFKA_ENSURE_TOPICS: field.boolean(true),
  /** Rows a queryDef returns when it sets no lineCount (the SDK documents Campaign's default of 200) … */
  QUERY_DEFAULT_LINE_COUNT: field.positiveInt(200),
  /** … and the most it may ask for (use paging with startLine, or a workflow, beyond). */
  QUERY_MAX_LINE_COUNT: field.positiveInt(10_000),
  /** Execution cell number carried in the high byte of transactional event ids (0–255). */
  EVENT_CELL_ID: field.positiveInt(1).refine((v) => v <= 255, { message: 'expected a cell number from 1 to 255' }),
  /** Extra srcSchema folders (extensions, custom namespaces), comma-separated; the same list on every service. */
  SCHEMA_DIRS: field.string(''),
  /** Seed development data (operators admin/mc, option, service, workflow); npm start turns it on. */
  DEV_SEED: field.boolean(false),
  DEV_ADMIN_PASSWORD: field.string('admin'),
  DEV_MC_PASSWORD: field.string('mc'),
};

export type LocalStoreConfig = ReturnType<typeof loadLocalStoreConfig>;

export function loadLocalStoreConfig(env: Record<string, string | undefined>) {
  return loadConfig('local-store', shape, env);
}
