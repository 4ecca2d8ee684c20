import { field, loadConfig, serviceConfigShape } from '@cap/platform-config';

const shape = {
  ...serviceConfigShape({ httpPort: 8083 }),
  CLOUD_DATABASE_URL: field.url(['postgres', 'postgresql'], 'postgres://postgres@127.0.0.1:5432/cap_cloud'),
  DB_POOL_MAX: field.positiveInt(10),
  MIGRATE_ON_START: field.boolean(true),
  KAFKA_ENSURE_TOPICS: field.boolean(true),
  /** Rows a queryDef returns when it sets no lineCount (the SDK documents Campaign's default of 200) … */
  QUERY_DEFAULT_LINE_COUNT: field.positiveInt(200),
  /** … and the most it may ask for (use paging with startLine, or a workflow, beyond). */
  QUERY_MAX_LINE_COUNT: field.positiveInt(10_000),
  /** Extra srcSchema folders (extensions, custom namespaces), comma-separated; the same list on every service. */
  SCHEMA_DIRS: field.string(''),
  /** Deadline of requests this service sends to local-store (workflow definitions). */
  RPC_TIMEOUT_MS: field.durationMs(3_000),
  /** Period of the workflow timer loop (wakes wait activities, resumes work left by a crash, republishes states). */
  WORKFLOW_TICK_MS: field.durationMs(500),
  /** How long a workflow command runs the workflow before replying (the timer loop carries on after). */
  WORKFLOW_STEP_BUDGET_MS: field.durationMs(1_000),
  /** Tasks one workflow run may create: a loop without end puts the workflow in error instead. */
  WORKFLOW_MAX_TASKS_PER_RUN: field.positiveInt(10_000),
};

export type CloudExecutorConfig = ReturnType<typeof loadCloudExecutorConfig>;

export function loadCloudExecutorConfig(env: Record<string, string | undefined>) {
  return loadConfig('cloud-executor', shape, env);
}
