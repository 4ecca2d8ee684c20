import { Counter, type Registry } from 'prom-client';
import {
  BroadLogStatus,
  compileDeliveryTarget,
  DeliveryState,
  FailureReason,
  isDeliveryError,
  prepareDelivery,
  recipientData,
  renderDeliveryMessage,
  type DeliveryDefinition,
} from '@cap/campaign-delivery';
import type { Schema } from '@cap/campaign-schema';
import type { FailureKind, OutboundMessage, SendOutcome } from '@cap/platform-channel';
import type { Logger } from '@cap/platform-logger';
import { withTransaction, type Pool } from '@cap/platform-postgres';
import { exponentialBackoff } from '@cap/platform-resilience';
import { startPollingWorker } from '@cap/platform-runtime';
import type { ChannelRegistry } from '../channels/channel.registry';
import type { DeliveryStatePublisher } from './delivery-state.publisher';
import { writeDeliveryLogs } from './delivery-logs.writer';
import { deliveryTemplateFields } from './delivery.submit';

export interface DeliveryRunnerOptions {
  pool: Pool;
  schemas: ReadonlyMap<string, Schema>;
  channels: ChannelRegistry;
  publisher: DeliveryStatePublisher;
  logger: Logger;
  registry: Registry;
  /** Delivery logs rendered and handed to the channel per batch (one commit per batch). */
  batchSize: number;
  /**
   * Poll interval for runnable jobs while there are some (SubmitDelivery wakes the runner at once). With none, the
   * runner sleeps until the next job is due (a retry, the end of a pause), up to `IDLE_TICKS` intervals.
   */
  tickMs: number;
  /** Least time between two indicator publications of one delivery while it sends. */
  progressMs: number;
  /** Wait before retrying a delivery whose channel was down (doubled per failed run, up to 60 s). */
  pauseMs: number;
  /** Retries of single messages that failed temporarily (DEFAULT_DELIVERY_RETRY when absent). */
  retry?: DeliveryRetryPolicy;
}

/** How a message that failed temporarily (4xx, connection, timeout, open breaker) is tried again. */
export interface DeliveryRetryPolicy {
  /** Retries after the first attempt (0: a temporary failure fails the message at once). */
  maxRetries: number;
  /** Wait before the first retry, doubled per retry … */
  delayMs: number;
  /** … up to this. */
  maxDelayMs: number;
}

export const DEFAULT_DELIVERY_RETRY: DeliveryRetryPolicy = { maxRetries: 5, delayMs: 60_000, maxDelayMs: 900_000 };

/** The wait after `attempts` failed attempts: delayMs × 2^(attempts−1), at most maxDelayMs. */
export function deliveryRetryDelay(policy: DeliveryRetryPolicy, attempts: number): number {
  return exponentialBackoff(attempts, { initialMs: policy.delayMs, maxMs: policy.maxDelayMs });
}

export interface DeliveryRunner {
  wake(): void;
  stop(): Promise<void>;
}

/** With no job to run, the runner looks up to this many ticks apart (10 s with the default 1 s). */
const IDLE_TICKS = 10;

/** Session-level advisory lock held by the worker running a delivery (released when its connection ends). */
const RUN_LOCK_NAMESPACE = 727_202;

export const FAILURE_OF_KIND: Record<FailureKind, number> = {
  unknownUser: FailureReason.unknownUser,
  invalidAddress: FailureReason.unknownUser,
  refused: FailureReason.refused,
  unreachable: FailureReason.unreachable,
};

interface JobRow {
  delivery_id: string;
  internal_name: string;
  definition: DeliveryDefinition;
  phase: 'targeting' | 'sending' | 'finished' | 'failed';
  paused_runs: number;
}

/** A log's outcome in a batch: a final status (sent, failed), or still pending (status 0) with a retry due at `retryAt`. */
type LogOutcome = { id: string; status: number; reason: number; text: string | null; retry?: { attempts: number; at: Date } };

/**
 * Runs delivery jobs: targeting (the target query's rows become nms:broadLogRcp rows in ONE INSERT … SELECT, so
 * a crash leaves no partial target), then sending batch by batch: read pending logs with their recipients,
 * render, hand the batch to the channel, then commit the logs' statuses and the job's counters together.
 * Each job runs under a session advisory lock, so one worker (of all replicas) runs it; a worker that dies
 * releases the lock with its connection and any worker resumes with the logs still pending. A log marked sent
 * is never sent again; a batch interrupted between the channel and the commit is sent again under the same
 * batch key (the file channel replaces that batch's file).
 *
 * A message that fails temporarily (SMTP 4xx, connection refused, reset or timed out, open breaker) stays
 * pending with a row in cap_delivery_retry (attempts, when due), committed with its batch; the loop skips it
 * until due and tries it again, up to `retry.maxRetries` times with a doubling, bounded wait, then fails it with
 * its last reason. Permanent failures (5xx, rendering, no valid address) fail at once. The job finishes only
 * when no log is pending; while only retries wait, it sleeps until the first is due (other jobs run meanwhile).
 * A delivery without retries reads and commits exactly as before: no extra statement per batch.
 */
export function startDeliveryRunner(options: DeliveryRunnerOptions): DeliveryRunner {
  const { pool, logger } = options;
  const retry = options.retry ?? DEFAULT_DELIVERY_RETRY;
  const log = logger.child({ module: 'delivery-runner' });
  const { fields, known } = deliveryTemplateFields(options.schemas);
  const messages = new Counter({
    name: 'cap_delivery_messages_total',
    help: 'Delivery messages by outcome',
    labelNames: ['outcome'],
    registers: [options.registry],
  });
  const selectFields = fields.map((f, i) => `r."${f.column}"${f.asText ? '::text' : ''} AS "f${i}"`).join(', ');
  /** How long until the next job in progress is due (negative: already due), if there is one. */
  const nextJobDueInMs = async (): Promise<number | undefined> => {
    const { rows } = await pool.query<{ due_in_ms: number | null }>(
      "SELECT (extract(epoch FROM min(next_run_at) - now()) * 1000)::float8 AS due_in_ms FROM cap_delivery_job WHERE phase IN ('targeting', 'sending')",
    );
    return rows[0]?.due_in_ms ?? undefined;
  };

  const loadJob = async (deliveryId: string): Promise<JobRow | undefined> =>
    (await pool.query<JobRow>('SELECT delivery_id, internal_name, definition, phase, paused_runs FROM cap_delivery_job WHERE delivery_id = $1', [deliveryId]))
      .rows[0];

  const failJob = async (deliveryId: string, reason: string) => {
    await pool.query(
      `UPDATE cap_delivery_job SET phase = 'failed', state = $2, failure_text = $3, finished_at = now(), updated_at = now(), state_version = state_version + 1 WHERE delivery_id = $1`,
      [deliveryId, DeliveryState.failed, reason.slice(0, 512)],
    );
    log.warn({ event: 'delivery.failed', deliveryId, reason }, 'delivery failed');
    await options.publisher.publish(deliveryId);
  };

  const pauseJob = async (job: JobRow, reason: string) => {
    // pauseMs doubled per paused run, at most 10 times and at most 60 s.
    const delay = exponentialBackoff(job.paused_runs + 1, { initialMs: options.pauseMs, maxMs: Math.min(60_000, options.pauseMs * 1_024) });
    await pool.query(
      `UPDATE cap_delivery_job SET paused_runs = paused_runs + 1, next_run_at = now() + ($2::int * interval '1 millisecond'), updated_at = now() WHERE delivery_id = $1`,
      [job.delivery_id, delay],
    );
    log.warn({ event: 'delivery.paused', deliveryId: job.delivery_id, delayMs: delay, reason }, 'channel unavailable: delivery paused, retried later');
  };

  const target = async (job: JobRow) => {
    let compiled;
    try {
      compiled = compileDeliveryTarget(job.definition.targets, options.schemas);
    } catch (err) {
      if (isDeliveryError(err)) return failJob(job.delivery_id, err.message);
      throw err;
    }
    const addressColumn = job.definition.messageType === 1 ? 'c2' : 'c1';
    const started = Date.now();
    const counts = await withTransaction(pool, async (client) => {
      const current = await client.query<{ phase: string }>('SELECT phase FROM cap_delivery_job WHERE delivery_id = $1 FOR UPDATE', [job.delivery_id]);
      if (current.rows[0]?.phase !== 'targeting') return undefined;
      return writeDeliveryLogs(client, job.delivery_id, {
        sql: compiled.sql,
        params: compiled.params,
        columns: { id: 'c0', address: addressColumn, blackList: 'c3' },
      });
    });
    if (counts) log.info({ event: 'delivery.targeted', deliveryId: job.delivery_id, ...counts, ms: Date.now() - started }, 'delivery logs written');
    await options.publisher.publish(job.delivery_id);
  };

  const send = async (job: JobRow, stopping: AbortSignal) => {
    const definition = job.definition;
    let prepared;
    try {
      prepared = prepareDelivery(definition, known);
    } catch (err) {
      if (isDeliveryError(err)) return failJob(job.delivery_id, err.message);
      throw err;
    }
    const channel = options.channels.find(definition.routing);
    if (!channel) return failJob(job.delivery_id, `routing '${definition.routing}' names no configured channel`);
    const deliveryData = { label: definition.label, internalName: job.internal_name, id: job.delivery_id };
    let lastPublish = 0;
    // Whether any of this delivery's logs waits for a retry: only then does the read skip logs not due yet.
    let hasRetries = (await pool.query<{ ok: boolean }>('SELECT EXISTS (SELECT 1 FROM cap_delivery_retry WHERE delivery_id = $1) AS ok', [job.delivery_id]))
      .rows[0]!.ok;
    while (!stopping.aborted) {
      const { rows } = await pool.query<Record<string, unknown> & { log_id: string; address: string; attempts?: number }>(
        hasRetries
          ? `SELECT l.id AS log_id, l.address AS address, coalesce(rt.attempts, 0) AS attempts${selectFields ? `, ${selectFields}` : ''}
               FROM nms_broad_log_rcp l LEFT JOIN cap_delivery_retry rt ON rt.log_id = l.id LEFT JOIN nms_recipient r ON r.id = l.recipient_id
              WHERE l.delivery_id = $1 AND l.status = 0 AND (rt.log_id IS NULL OR rt.next_attempt_at <= now()) ORDER BY l.id LIMIT $2`
          : `SELECT l.id AS log_id, l.address AS address${selectFields ? `, ${selectFields}` : ''}
               FROM nms_broad_log_rcp l LEFT JOIN nms_recipient r ON r.id = l.recipient_id
              WHERE l.delivery_id = $1 AND l.status = 0 ORDER BY l.id LIMIT $2`,
        [job.delivery_id, options.batchSize],
      );
      if (rows.length === 0) {
        if (hasRetries) {
          // Logs still pending wait for their retry: sleep until the first is due (the lock is released meanwhile).
          const next = await pool.query<{ at: Date | null; due: boolean }>(
            `SELECT min(rt.next_attempt_at) AS at, min(rt.next_attempt_at) <= now() AS due
               FROM cap_delivery_retry rt JOIN nms_broad_log_rcp l ON l.id = rt.log_id AND l.status = 0 WHERE rt.delivery_id = $1`,
            [job.delivery_id],
          );
          const { at, due } = next.rows[0]!;
          if (at && due) continue;
          if (at) {
            await pool.query('UPDATE cap_delivery_job SET next_run_at = $2, updated_at = now() WHERE delivery_id = $1', [job.delivery_id, at]);
            await options.publisher.publish(job.delivery_id);
            return;
          }
        }
        const finished = await withTransaction(pool, async (client) => {
          const done = await client.query(
            `UPDATE cap_delivery_job SET phase = 'finished', state = $2, finished_at = now(), updated_at = now(), state_version = state_version + 1 WHERE delivery_id = $1 AND phase = 'sending'`,
            [job.delivery_id, DeliveryState.finished],
          );
          if (done.rowCount === 1 && hasRetries) await client.query('DELETE FROM cap_delivery_retry WHERE delivery_id = $1', [job.delivery_id]);
          return done.rowCount === 1;
        });
        if (finished) log.info({ event: 'delivery.finished', deliveryId: job.delivery_id }, 'delivery finished');
        await options.publisher.publish(job.delivery_id);
        return;
      }
      const attemptsOf = (row: { attempts?: number }) => Number(row.attempts ?? 0);
      const outcomes: LogOutcome[] = [];
      const outgoing: { message: OutboundMessage; attempts: number }[] = [];
      for (const row of rows) {
        const rendered = renderDeliveryMessage(prepared, { recipient: recipientData(fields, row), delivery: deliveryData });
        if (!rendered.ok) {
          outcomes.push({ id: row.log_id, status: BroadLogStatus.failed, reason: FailureReason.rendering, text: rendered.reason });
          continue;
        }
        outgoing.push({
          attempts: attemptsOf(row),
          message: {
            id: row.log_id,
            kind: definition.messageType === 1 ? 'sms' : 'email',
            to: row.address,
            from: definition.senderAddress,
            subject: rendered.subject,
            body: rendered.body,
            meta: { deliveryId: job.delivery_id, delivery: job.internal_name },
          },
        });
      }
      if (outgoing.length > 0) {
        // A batch's key names its first log and that log's attempt: a batch sent again after a crash has the same key
        // (the file channel replaces it), a retry of that log a new one.
        const first = rows[0]!;
        const key = `dlv-${job.delivery_id}-${first.log_id}${attemptsOf(first) > 0 ? `-a${attemptsOf(first)}` : ''}`;
        let results: SendOutcome[];
        try {
          results = await channel.send({ key, messages: outgoing.map((o) => o.message) });
        } catch (err) {
          return pauseJob(job, (err as Error).message);
        }
        const now = Date.now();
        results.forEach((r, i) => {
          const { message, attempts: before } = outgoing[i]!;
          const id = message.id;
          if (r.status === 'sent') return outcomes.push({ id, status: BroadLogStatus.sent, reason: FailureReason.none, text: null });
          const reason = FAILURE_OF_KIND[r.kind];
          if (r.permanent) return outcomes.push({ id, status: BroadLogStatus.failed, reason, text: r.message.slice(0, 512) });
          const attempts = before + 1;
          if (attempts > retry.maxRetries) {
            const text =
              retry.maxRetries === 0
                ? `Temporary failure, not retried: ${r.message}`
                : `Temporary failure, still failing after ${attempts} attempts: ${r.message}`;
            return outcomes.push({ id, status: BroadLogStatus.failed, reason, text: text.slice(0, 512) });
          }
          const at = new Date(now + deliveryRetryDelay(retry, attempts));
          return outcomes.push({
            id,
            status: BroadLogStatus.pending,
            reason,
            text: `Temporary failure (attempt ${attempts} of ${retry.maxRetries + 1}), tried again at ${at.toISOString()}: ${r.message}`.slice(0, 512),
            retry: { attempts, at },
          });
        });
      }
      const { scheduled, phase } = await commitBatch(job.delivery_id, outcomes, hasRetries);
      if (phase !== 'sending') {
        // Paused or stopped (nms:delivery#ExecCommand) while this batch was out: nothing more is sent.
        log.info({ event: 'delivery.halted', deliveryId: job.delivery_id, phase }, 'delivery paused or stopped: sending halted');
        await options.publisher.publish(job.delivery_id);
        return;
      }
      if (scheduled > 0) {
        hasRetries = true;
        log.info({ event: 'delivery.retries_scheduled', deliveryId: job.delivery_id, messages: scheduled }, 'messages failed temporarily: tried again later');
      }
      job.paused_runs = 0;
      if (Date.now() - lastPublish >= options.progressMs) {
        await options.publisher.publish(job.delivery_id);
        lastPublish = Date.now();
      }
    }
  };

  /**
   * Statuses of one batch, its retries and the job's counters, in one transaction; only logs still pending count.
   * Logs to retry stay pending (their reason and text say why) and get their cap_delivery_retry row; a log that was
   * waiting for a retry and is now final loses it. Returns how many retries were scheduled, and the job's phase
   * (anything but 'sending' once a command paused or stopped it).
   */
  const commitBatch = (deliveryId: string, outcomes: LogOutcome[], hadRetries: boolean) =>
    withTransaction(pool, async (client) => {
      const { rows } = await client.query<{ status: number; reason: number }>(
        `UPDATE nms_broad_log_rcp l SET status = u.status, failure_reason = u.reason, failure_text = u.text, event_date = now(), last_modified = now()
           FROM unnest($1::text[], $2::smallint[], $3::smallint[], $4::text[]) AS u(id, status, reason, text)
          WHERE l.id = u.id AND l.status = 0
          RETURNING u.status, u.reason`,
        [outcomes.map((o) => o.id), outcomes.map((o) => o.status), outcomes.map((o) => o.reason), outcomes.map((o) => o.text)],
      );
      const retries = outcomes.filter((o) => o.retry);
      if (retries.length > 0) {
        await client.query(
          `INSERT INTO cap_delivery_retry (log_id, delivery_id, attempts, next_attempt_at, last_reason, last_error)
           SELECT u.id, $1::bigint, u.attempts, u.at, u.reason, u.text FROM unnest($2::text[], $3::int[], $4::timestamptz[], $5::smallint[], $6::text[]) AS u(id, attempts, at, reason, text)
           ON CONFLICT (log_id) DO UPDATE SET attempts = EXCLUDED.attempts, next_attempt_at = EXCLUDED.next_attempt_at, last_reason = EXCLUDED.last_reason, last_error = EXCLUDED.last_error`,
          [
            deliveryId,
            retries.map((o) => o.id),
            retries.map((o) => o.retry!.attempts),
            retries.map((o) => o.retry!.at),
            retries.map((o) => o.reason),
            retries.map((o) => o.text),
          ],
        );
      }
      if (hadRetries) {
        await client.query('DELETE FROM cap_delivery_retry WHERE log_id = ANY($1::text[])', [outcomes.filter((o) => !o.retry).map((o) => o.id)]);
      }
      const final = rows.filter((r) => r.status !== BroadLogStatus.pending);
      const count = (pred: (r: { status: number; reason: number }) => boolean) => final.filter(pred).length;
      const sent = count((r) => r.status === BroadLogStatus.sent);
      const failed = final.length - sent;
      const rendering = count((r) => r.reason === FailureReason.rendering);
      const refused = count((r) => r.status === BroadLogStatus.failed && (r.reason === FailureReason.refused || r.reason === FailureReason.unknownUser));
      const unreachable = count((r) => r.status === BroadLogStatus.failed && r.reason === FailureReason.unreachable);
      const job = await client.query<{ phase: string }>(
        `UPDATE cap_delivery_job SET processed = processed + $2, success = success + $3, error = error + $4, error_rendering = error_rendering + $5,
                error_refused = error_refused + $6, error_unreachable = error_unreachable + $7, paused_runs = 0, updated_at = now(), state_version = state_version + 1
          WHERE delivery_id = $1 RETURNING phase`,
        [deliveryId, final.length, sent, failed, rendering, refused, unreachable],
      );
      messages.inc({ outcome: 'sent' }, sent);
      messages.inc({ outcome: 'failed' }, failed);
      if (retries.length > 0) messages.inc({ outcome: 'retry' }, retries.length);
      return { scheduled: retries.length, phase: job.rows[0]?.phase };
    });

  const runIfFree = async (deliveryId: string, stopping: AbortSignal) => {
    const lock = await pool.connect();
    try {
      const got = await lock.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, ($2::bigint % 2147483647)::int) AS ok', [RUN_LOCK_NAMESPACE, deliveryId]);
      if (!got.rows[0]!.ok) return;
      try {
        let job = await loadJob(deliveryId);
        if (job?.phase === 'targeting') {
          await target(job);
          job = await loadJob(deliveryId);
        }
        if (job?.phase === 'sending') await send(job, stopping);
      } finally {
        await lock.query('SELECT pg_advisory_unlock($1, ($2::bigint % 2147483647)::int)', [RUN_LOCK_NAMESPACE, deliveryId]).catch(() => undefined);
      }
    } finally {
      lock.release();
    }
  };

  const worker = startPollingWorker({
    name: 'delivery-runner',
    intervalMs: options.tickMs,
    idleMaxMs: options.tickMs * IDLE_TICKS,
    firstRound: 'now',
    round: async ({ signal }) => {
      const published = await options.publisher.publishPending(100);
      const { rows } = await pool.query<{ delivery_id: string }>(
        "SELECT delivery_id FROM cap_delivery_job WHERE phase IN ('targeting', 'sending') AND next_run_at <= now() ORDER BY created_at LIMIT 20",
      );
      for (const { delivery_id } of rows) {
        if (signal.aborted) break;
        await runIfFree(delivery_id, signal);
      }
      if (published > 0 || rows.length > 0) return true;
      const dueInMs = await nextJobDueInMs();
      return dueInMs === undefined ? false : { foundWork: false, dueInMs };
    },
    onError: (err) => log.warn({ event: 'delivery.runner_failed', err: { message: (err as Error).message } }, 'delivery runner round failed; retrying'),
  });

  return {
    wake: () => worker.wake(),
    stop: () => worker.stop(),
  };
}
