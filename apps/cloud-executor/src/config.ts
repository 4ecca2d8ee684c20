import { z } from 'zod';
import { field, loadConfig, serviceConfigShape } from '@cap/platform-config';

const shape = {
  ...serviceConfigShape({ httpPort: 8083 }),
  CLOUD_DATABASE_URL: field.url(['postgres', 'postgresql'], 'postgres://postgres@127.0.0.1:5432/cap_cloud'),
  DB_POOL_MAX: field.positiveInt(10),
  MIGRATE_ON_START: field.boolean(true),
  KAFKA_ENSURE_TOPICS: field.boolean(true),
  /** Requests this replica handles at once; beyond, it stops fetching until one finishes (room for batching). */
  RPC_MAX_IN_FLIGHT: field.positiveInt(256),
  /** Bytes of requests handled at once (a bigger request runs alone), so big documents cannot exhaust memory. */
  RPC_MAX_IN_FLIGHT_BYTES: field.positiveInt(64 * 1024 * 1024),
  /** Rows a queryDef returns when it sets no lineCount (the SDK documents Campaign's default of 200) … */
  QUERY_DEFAULT_LINE_COUNT: field.positiveInt(200),
  /** … and the most it may ask for (use paging with startLine, or a workflow, beyond). */
  QUERY_MAX_LINE_COUNT: field.positiveInt(10_000),
  /** Rows a select reads per round trip from its server-side cursor (raw rows held at once while a page is built). */
  QUERY_CURSOR_FETCH_ROWS: field.positiveInt(1_000),
  /** Keyset paging: page ends remembered (the sort keys of each page's last row), least recently used first out; 0 disables it. */
  QUERY_KEYSET_CACHE_SIZE: z.coerce.number().int().min(0).max(1_000_000).default(1_000),
  /** Keyset paging: how long a page end stays usable after its page was served. */
  QUERY_KEYSET_CACHE_TTL_MS: field.durationMs(600_000),
  /**
   * A message that keeps failing with a retriable error is quarantined (its key's later messages held behind it)
   * once it has failed this long while other messages succeeded; non-retriable failures are quarantined at once.
   */
  QUARANTINE_RETRY_BUDGET_MS: field.durationMs(30_000),
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
  /** JavaScript activities: CPU time one script may use (its waits on queries and writes do not count). */
  WORKFLOW_JS_CPU_LIMIT_MS: field.durationMs(5_000),
  /** JavaScript activities: memory one script may use (QuickJS heap and strings). */
  WORKFLOW_JS_MEMORY_LIMIT_MB: field.positiveInt(64),
  /** JavaScript activities: time one script may take in all, waits included (Campaign's "stop execution after"). */
  WORKFLOW_JS_TIMEOUT_MS: field.durationMs(300_000),
  /** Worker threads running scripts (scripts beyond wait their turn). */
  WORKFLOW_JS_WORKERS: field.positiveInt(2),
  /** JavaScript activities: most bytes of each scope of variables a script leaves (vars, instance.vars, task.vars), as JSON. */
  WORKFLOW_VARIABLES_MAX_BYTES: field.positiveInt(262_144),
  /** Workflows whose work activities (scripts, queries, updates) this process runs at once. */
  WORKFLOW_WORK_CONCURRENCY: field.positiveInt(4),
  /** How long a claim on a running activity holds without renewal: a replica that died is taken over after it. */
  WORKFLOW_TASK_LEASE_MS: field.durationMs(30_000),
  /** Query activities: most records put in a working table. */
  WORKFLOW_QUERY_MAX_ROWS: field.positiveInt(1_000_000),
  /** Query and update data activities: time one may take (statement timeout; update batches stop after it). */
  WORKFLOW_ACTIVITY_TIMEOUT_MS: field.durationMs(600_000),
  /** Channel of deliveries and message-center templates whose @routing is empty: file or smtp. */
  CHANNEL_DEFAULT: field.enumOf(['file', 'smtp'], 'file'),
  /** Folder the file channel writes message batches to (JSON lines), created when missing. */
  CHANNEL_FILE_DIR: field.string('var/messages'),
  /** SMTP server of the smtp channel (smtp://[user:password@]host[:port] or smtps://…); empty: no smtp channel. */
  SMTP_URL: field
    .string('')
    .refine((v) => v === '' || /^smtps?:\/\/[^\s/]+/.test(v), { message: 'expected smtp://host[:port] or smtps://host[:port] (or empty)' }),
  /** Connections the smtp channel keeps open (messages are sent over them in parallel). */
  SMTP_POOL_MAX: field.positiveInt(5),
  /** SMTP connection, greeting and socket timeout; also the channel breaker's per-message timeout. */
  SMTP_TIMEOUT_MS: field.durationMs(10_000),
  /** How long the smtp channel's breaker stays open before a probe message. */
  SMTP_BREAKER_RESET_MS: field.durationMs(5_000),
  /** Share of failed messages (within the breaker's 10 s window) that opens the smtp channel's breaker, in percent. */
  SMTP_BREAKER_ERROR_PERCENT: z.coerce.number().int().min(1).max(100).default(50),
  /** Messages the smtp channel must have sent within the window before its breaker may open. */
  SMTP_BREAKER_VOLUME_THRESHOLD: field.positiveInt(5),
  /** Accept an SMTP server certificate that does not verify (development only). */
  SMTP_ALLOW_INVALID_CERTIFICATES: field.boolean(false),
  /** Sender of emails whose template gives none. */
  MESSAGE_DEFAULT_SENDER: field.string('campaign@localhost'),
  /** Delivery logs rendered and handed to the channel per batch (one commit per batch). */
  DELIVERY_BATCH_SIZE: field.positiveInt(2_000),
  /** Poll period of the delivery runner (SubmitDelivery wakes it at once). */
  DELIVERY_TICK_MS: field.durationMs(1_000),
  /** Least time between two indicator updates of a delivery while it sends. */
  DELIVERY_PROGRESS_MS: field.durationMs(1_000),
  /** Wait before trying again a delivery whose channel was down (doubled per failed run, at most 60 s). */
  DELIVERY_PAUSE_MS: field.durationMs(5_000),
  /** Retries of a delivery message that failed temporarily (SMTP 4xx, connection, timeout, open breaker); 0: fail it at once. */
  DELIVERY_RETRY_COUNT: z.coerce.number().int().min(0).max(100).default(5),
  /** Wait before the first retry of such a message (doubled per retry). */
  DELIVERY_RETRY_PERIOD_MS: field.durationMs(60_000),
  /** Longest wait between two retries of a message. */
  DELIVERY_RETRY_MAX_PERIOD_MS: field.durationMs(900_000),
  /** Most transactional events processed per batch. */
  MC_BATCH_SIZE: field.positiveInt(500),
  /** Sending attempts before an event whose channel keeps failing temporarily is Expired. */
  MC_MAX_ATTEMPTS: field.positiveInt(5),
  /** Wait before the first retry of a temporarily failed event (doubled per attempt). */
  MC_RETRY_DELAY_MS: field.durationMs(30_000),
  /** Longest wait between two retries. */
  MC_RETRY_MAX_DELAY_MS: field.durationMs(600_000),
  /** Period of the retry loop (due retries and scheduled events). */
  MC_RETRY_TICK_MS: field.durationMs(1_000),
};

export type CloudExecutorConfig = ReturnType<typeof loadCloudExecutorConfig>;

export function loadCloudExecutorConfig(env: Record<string, string | undefined>) {
  return loadConfig('cloud-executor', shape, env);
}
