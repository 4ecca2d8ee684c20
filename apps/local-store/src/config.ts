import { field, loadConfig, serviceConfigShape } from '@cap/platform-config';

const shape = {
  ...serviceConfigShape({ httpPort: 8081 }),
  LOCAL_DATABASE_URL: field.url(['postgres', 'postgresql'], 'postgres://postgres@127.0.0.1:5432/cap_local'),
  DB_POOL_MAX: field.positiveInt(10),
  MIGRATE_ON_START: field.boolean(true),
  KAFKA_ENSURE_TOPICS: field.boolean(true),
  /** Requests this replica handles at once; beyond, it stops fetching until one finishes (room for batching). */
  RPC_MAX_IN_FLIGHT: field.positiveInt(256),
  /** Bytes of requests handled at once (a bigger request runs alone), so big documents cannot exhaust memory. */
  RPC_MAX_IN_FLIGHT_BYTES: field.positiveInt(64 * 1024 * 1024),
  /**
   * Group commit of unitary writes (Ingest, IngestExt, one-record Write) and, separately, of event pushes
   * (PushEvent, PushEvents): those that arrive while WRITE_GROUP_CONCURRENCY transactions run are committed
   * together, up to this many in one transaction (1 = each in its own transaction). Each stays atomic: a
   * failing one never takes others down.
   */
  WRITE_GROUP_MAX: field.positiveInt(64),
  /**
   * Write transactions running at once, and event-push transactions at once (keep twice this below
   * DB_POOL_MAX: reads, the relay and acks use the pool too).
   */
  WRITE_GROUP_CONCURRENCY: field.positiveInt(2),
  /** Rows a queryDef returns when it sets no lineCount (the SDK documents Campaign's default of 200) … */
  QUERY_DEFAULT_LINE_COUNT: field.positiveInt(200),
  /** … and the most it may ask for (use paging with startLine, or a workflow, beyond). */
  QUERY_MAX_LINE_COUNT: field.positiveInt(10_000),
  /** Execution cell number carried in the high byte of the ids PushEvent returns (1–255); the stored @id is without it. */
  EVENT_CELL_ID: field.positiveInt(1).refine((v) => v <= 255, { message: 'expected a cell number from 1 to 255' }),
  /** Most outbox rows the relay publishes per round. */
  OUTBOX_BATCH_SIZE: field.positiveInt(2_000),
  /** Relay poll interval when no NOTIFY arrives (a NOTIFY from the writing transaction wakes it at once); up to ten times this while idle. */
  OUTBOX_POLL_MS: field.positiveInt(500),
  /** After a NOTIFY, how long the relay waits before its round so that one round carries the rows committed meanwhile (0 = none). */
  OUTBOX_LINGER_MS: field.nonNegativeInt(20),
  /**
   * Staged changes the relay tracks between publishing and their cloud commit, to keep the changes of one record
   * on one partition when callers name it by different keys (an Ingest by @id, an IngestExt by @email). Beyond
   * it (a long cloud outage) the relay pauses and the backlog waits in the outbox.
   */
  OUTBOX_MAX_LIVE_CHANGES: field.positiveInt(50_000),
  /** How long StartReplicateStagingData waits for staging-sync to acknowledge the rows staged before it. */
  STAGING_FLUSH_WAIT_MS: field.positiveInt(3_000),
  /** How long installing an authored source schema waits for cloud-executor to apply its cloud DDL (docs/schema-authoring.md). */
  SCHEMA_DDL_TIMEOUT_MS: field.durationMs(30_000),
  /** Synced staging rows are deleted after this many seconds (unsynced rows are never deleted). */
  STAGING_RETENTION_SECONDS: field.positiveInt(86_400),
  /** How often synced staging rows past retention are purged. */
  STAGING_PURGE_INTERVAL_MS: field.positiveInt(60_000),
  /**
   * Redis, where local-store keeps each operator's current rights and state for the gateways (so a rights
   * change or a disabled operator reaches live sessions at once): the gateways' own REDIS_URL and REDIS_KEY_PREFIX.
   */
  REDIS_URL: field.url(['redis', 'rediss'], 'redis://127.0.0.1:6379/0'),
  REDIS_KEY_PREFIX: field.keyPrefix('cap:'),
  /** How long an operator's state stays in Redis without a change (a gateway fills a missing one from local-store). */
  OPERATOR_STATE_TTL_MS: field.durationMs(3_600_000),
  /**
   * A message that keeps failing with a retriable error is quarantined (its key's later messages held behind it)
   * once it has failed this long while other messages succeeded; non-retriable failures are quarantined at once.
   */
  QUARANTINE_RETRY_BUDGET_MS: field.durationMs(30_000),
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
