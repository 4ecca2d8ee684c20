import { field, loadConfig, serviceConfigShape } from '@cap/platform-config';

const shape = {
  ...serviceConfigShape({ httpPort: 8082 }),
  /** The cloud database staged rows are written to (its schema is migrated by cloud-executor). */
  CLOUD_DATABASE_URL: field.url(['postgres', 'postgresql'], 'postgres://postgres@127.0.0.1:5432/cap_cloud'),
  DB_POOL_MAX: field.positiveInt(4),
  /** Most change messages applied in one cloud transaction. */
  SYNC_MAX_BATCH: field.positiveInt(5_000),
  /** How long the broker may wait to fill a fetch when traffic is low (batching by time), in ms. */
  SYNC_MAX_WAIT_MS: field.positiveInt(100),
  /**
   * Bytes of changes a fetch waits for, up to SYNC_MAX_WAIT_MS, before a batch is applied (batching by size).
   * 1 applies whatever has arrived at once: under a steady trickle that is one cloud transaction and one
   * acknowledgement per change or two, the most expensive way to sync.
   */
  SYNC_MIN_BATCH_BYTES: field.positiveInt(256 * 1024),
  /** Partitions this worker applies in parallel (each batch is one transaction; keep ≤ DB_POOL_MAX). */
  SYNC_CONCURRENCY: field.positiveInt(2),
  /** A batch slower than this counts as a cloud DB failure for the breaker, in ms. */
  CLOUD_BREAKER_TIMEOUT_MS: field.positiveInt(30_000),
  /** How long the cloud DB breaker stays open before a probe, in ms. */
  CLOUD_BREAKER_RESET_MS: field.positiveInt(5_000),
  /**
   * A message that keeps failing with a retriable error is quarantined (its key's later messages held behind it)
   * once it has failed this long while other messages succeeded; non-retriable failures are quarantined at once.
   */
  QUARANTINE_RETRY_BUDGET_MS: field.durationMs(30_000),
  /** Extra srcSchema folders (extensions, custom namespaces), comma-separated; the same list on every service. */
  SCHEMA_DIRS: field.string(''),
};

export type StagingSyncConfig = ReturnType<typeof loadStagingSyncConfig>;

export function loadStagingSyncConfig(env: Record<string, string | undefined>) {
  return loadConfig('staging-sync', shape, env);
}
