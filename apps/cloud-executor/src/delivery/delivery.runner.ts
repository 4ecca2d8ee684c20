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
import type { ChannelRegistry } from '../channels/channel.registry';
import type { DeliveryStatePublisher } from './delivery-state.publisher';
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
  /** Poll interval for runnable jobs (SubmitDelivery wakes the runner at once). */
  tickMs: number;
  /** Least time between two indicator publications of one delivery while it sends. */
  progressMs: number;
  /** Wait before retrying a delivery whose channel was down (doubled per failed run, up to 60 s). */
  pauseMs: number;
}

export interface DeliveryRunner {
  wake(): void;
  stop(): Promise<void>;
}

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

type LogOutcome = { id: string; status: number; reason: number; text: string | null };

/**
 * Runs delivery jobs: targeting (the target query's rows become nms:broadLogRcp rows in ONE INSERT … SELECT, so
 * a crash leaves no partial target), then sending batch by batch: read pending logs with their recipients,
 * render, hand the batch to the channel, then commit the logs' statuses and the job's counters together.
 * Each job runs under a session advisory lock, so one worker (of all replicas) runs it; a worker that dies
 * releases the lock with its connection and any worker resumes with the logs still pending. A log marked sent
 * is never sent again; a batch interrupted between the channel and the commit is sent again under the same
 * batch key (the file channel replaces that batch's file).
 */
export function startDeliveryRunner(options: DeliveryRunnerOptions): DeliveryRunner {
  const { pool, logger } = options;
  const log = logger.child({ module: 'delivery-runner' });
  const { fields, known } = deliveryTemplateFields(options.schemas);
  const messages = new Counter({ name: 'cap_delivery_messages_total', help: 'Delivery messages by outcome', labelNames: ['outcome'], registers: [options.registry] });
  const selectFields = fields.map((f, i) => `r."${f.column}"${f.asText ? '::text' : ''} AS "f${i}"`).join(', ');
  let stopped = false;
  let wakeUp: (() => void) | undefined;
  let pendingWake = false;

  const waitForWake = (ms: number) =>
    new Promise<void>((resolve) => {
      if (pendingWake || stopped) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
    });

  const loadJob = async (deliveryId: string): Promise<JobRow | undefined> =>
    (await pool.query<JobRow>('SELECT delivery_id, internal_name, definition, phase, paused_runs FROM cap_delivery_job WHERE delivery_id = $1', [deliveryId])).rows[0];

  const failJob = async (deliveryId: string, reason: string) => {
    await pool.query(
      `UPDATE cap_delivery_job SET phase = 'failed', state = $2, failure_text = $3, finished_at = now(), updated_at = now(), state_version = state_version + 1 WHERE delivery_id = $1`,
      [deliveryId, DeliveryState.failed, reason.slice(0, 512)],
    );
    log.warn({ event: 'delivery.failed', deliveryId, reason }, 'delivery failed');
    await options.publisher.publish(deliveryId);
  };

  const pauseJob = async (job: JobRow, reason: string) => {
    const delay = Math.min(60_000, options.pauseMs * 2 ** Math.min(job.paused_runs, 10));
    await pool.query(`UPDATE cap_delivery_job SET paused_runs = paused_runs + 1, next_run_at = now() + ($2::int * interval '1 millisecond'), updated_at = now() WHERE delivery_id = $1`, [job.delivery_id, delay]);
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
    const n = compiled.params.length;
    const started = Date.now();
    const counts = await withTransaction(pool, async (client) => {
      const current = await client.query<{ phase: string }>('SELECT phase FROM cap_delivery_job WHERE delivery_id = $1 FOR UPDATE', [job.delivery_id]);
      if (current.rows[0]?.phase !== 'targeting') return undefined;
      const { rows } = await client.query<{ targeted: number; inserted: number }>(
        `WITH target AS (${compiled.sql}),
              ins AS (INSERT INTO nms_broad_log_rcp (id, delivery_id, recipient_id, address, status, failure_reason, event_date, last_modified)
                      SELECT gen_random_uuid()::text, $${n + 1}::bigint, t.c0, t.${addressColumn}, 0, 0, now(), now()
                        FROM target t WHERE NOT coalesce(t.c3, false) AND coalesce(t.${addressColumn}, '') <> '' RETURNING 1)
         SELECT (SELECT count(*) FROM target)::int AS targeted, (SELECT count(*) FROM ins)::int AS inserted`,
        [...compiled.params, job.delivery_id],
      );
      const { targeted, inserted } = rows[0]!;
      await client.query(
        `UPDATE cap_delivery_job SET phase = 'sending', state = $2, targeted = $3, excluded = $4, to_deliver = $5, updated_at = now(), state_version = state_version + 1 WHERE delivery_id = $1`,
        [job.delivery_id, DeliveryState.running, targeted, targeted - inserted, inserted],
      );
      return { targeted, inserted };
    });
    if (counts) log.info({ event: 'delivery.targeted', deliveryId: job.delivery_id, ...counts, ms: Date.now() - started }, 'delivery logs written');
    await options.publisher.publish(job.delivery_id);
  };

  const send = async (job: JobRow) => {
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
    while (!stopped) {
      const { rows } = await pool.query<Record<string, unknown> & { log_id: string; address: string }>(
        `SELECT l.id AS log_id, l.address AS address${selectFields ? `, ${selectFields}` : ''}
           FROM nms_broad_log_rcp l LEFT JOIN nms_recipient r ON r.id = l.recipient_id
          WHERE l.delivery_id = $1 AND l.status = 0 ORDER BY l.id LIMIT $2`,
        [job.delivery_id, options.batchSize],
      );
      if (rows.length === 0) {
        await pool.query(
          `UPDATE cap_delivery_job SET phase = 'finished', state = $2, finished_at = now(), updated_at = now(), state_version = state_version + 1 WHERE delivery_id = $1 AND phase = 'sending'`,
          [job.delivery_id, DeliveryState.finished],
        );
        log.info({ event: 'delivery.finished', deliveryId: job.delivery_id }, 'delivery finished');
        await options.publisher.publish(job.delivery_id);
        return;
      }
      const outcomes: LogOutcome[] = [];
      const outgoing: OutboundMessage[] = [];
      for (const row of rows) {
        const rendered = renderDeliveryMessage(prepared, { recipient: recipientData(fields, row), delivery: deliveryData });
        if (!rendered.ok) {
          outcomes.push({ id: row.log_id, status: BroadLogStatus.failed, reason: FailureReason.rendering, text: rendered.reason });
          continue;
        }
        outgoing.push({
          id: row.log_id,
          kind: definition.messageType === 1 ? 'sms' : 'email',
          to: row.address,
          from: definition.senderAddress,
          subject: rendered.subject,
          body: rendered.body,
          meta: { deliveryId: job.delivery_id, delivery: job.internal_name },
        });
      }
      if (outgoing.length > 0) {
        let results: SendOutcome[];
        try {
          results = await channel.send({ key: `dlv-${job.delivery_id}-${rows[0]!.log_id}`, messages: outgoing });
        } catch (err) {
          return pauseJob(job, (err as Error).message);
        }
        const temporary = results.filter((r) => r.status === 'failed' && !r.permanent);
        if (temporary.length === results.length) return pauseJob(job, (temporary[0] as { message: string }).message);
        results.forEach((r, i) => {
          const id = outgoing[i]!.id;
          if (r.status === 'sent') outcomes.push({ id, status: BroadLogStatus.sent, reason: FailureReason.none, text: null });
          else outcomes.push({ id, status: BroadLogStatus.failed, reason: FAILURE_OF_KIND[r.kind], text: `${r.permanent ? '' : 'Temporary failure, not retried: '}${r.message}`.slice(0, 512) });
        });
      }
      await commitBatch(job.delivery_id, outcomes);
      job.paused_runs = 0;
      if (Date.now() - lastPublish >= options.progressMs) {
        await options.publisher.publish(job.delivery_id);
        lastPublish = Date.now();
      }
    }
  };

  /** Statuses of one batch and the job's counters, in one transaction; only logs still pending count. */
  const commitBatch = (deliveryId: string, outcomes: LogOutcome[]) =>
    withTransaction(pool, async (client) => {
      const { rows } = await client.query<{ status: number; reason: number }>(
        `UPDATE nms_broad_log_rcp l SET status = u.status, failure_reason = u.reason, failure_text = u.text, event_date = now(), last_modified = now()
           FROM unnest($1::text[], $2::smallint[], $3::smallint[], $4::text[]) AS u(id, status, reason, text)
          WHERE l.id = u.id AND l.status = 0
          RETURNING u.status, u.reason`,
        [outcomes.map((o) => o.id), outcomes.map((o) => o.status), outcomes.map((o) => o.reason), outcomes.map((o) => o.text)],
      );
      const count = (pred: (r: { status: number; reason: number }) => boolean) => rows.filter(pred).length;
      const sent = count((r) => r.status === BroadLogStatus.sent);
      const failed = rows.length - sent;
      const rendering = count((r) => r.reason === FailureReason.rendering);
      const refused = count((r) => r.status === BroadLogStatus.failed && (r.reason === FailureReason.refused || r.reason === FailureReason.unknownUser));
      const unreachable = count((r) => r.status === BroadLogStatus.failed && r.reason === FailureReason.unreachable);
      await client.query(
        `UPDATE cap_delivery_job SET processed = processed + $2, success = success + $3, error = error + $4, error_rendering = error_rendering + $5,
                error_refused = error_refused + $6, error_unreachable = error_unreachable + $7, paused_runs = 0, updated_at = now(), state_version = state_version + 1
          WHERE delivery_id = $1`,
        [deliveryId, rows.length, sent, failed, rendering, refused, unreachable],
      );
      messages.inc({ outcome: 'sent' }, sent);
      messages.inc({ outcome: 'failed' }, failed);
    });

  const runIfFree = async (deliveryId: string) => {
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
        if (job?.phase === 'sending') await send(job);
      } finally {
        await lock.query('SELECT pg_advisory_unlock($1, ($2::bigint % 2147483647)::int)', [RUN_LOCK_NAMESPACE, deliveryId]).catch(() => undefined);
      }
    } finally {
      lock.release();
    }
  };

  const loop = (async () => {
    while (!stopped) {
      pendingWake = false;
      try {
        await options.publisher.publishPending(100);
        const { rows } = await pool.query<{ delivery_id: string }>(
          "SELECT delivery_id FROM cap_delivery_job WHERE phase IN ('targeting', 'sending') AND next_run_at <= now() ORDER BY created_at LIMIT 20",
        );
        for (const { delivery_id } of rows) {
          if (stopped) break;
          await runIfFree(delivery_id);
        }
      } catch (err) {
        log.warn({ event: 'delivery.runner_failed', err: { message: (err as Error).message } }, 'delivery runner round failed; retrying');
      }
      await waitForWake(options.tickMs);
    }
  })();

  return {
    wake() {
      pendingWake = true;
      wakeUp?.();
    },
    async stop() {
      stopped = true;
      wakeUp?.();
      await loop;
    },
  };
}
