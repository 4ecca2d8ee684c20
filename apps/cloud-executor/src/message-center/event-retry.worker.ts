import { TOPICS, type MessageCenterEvent, type MessageCenterStatus } from '@cap/contracts';
import type { Messaging } from '@cap/platform-kafka';
import type { Logger } from '@cap/platform-logger';
import { withTransaction, type Pool } from '@cap/platform-postgres';
import { startPollingWorker } from '@cap/platform-runtime';
import { scheduleRetries, writeEventLogs } from './event-log.store';
import { statusMessage, type EventProcessor } from './event.processor';
import type { createMessageCenterMetrics } from './event.consumer';

export interface EventRetryWorkerOptions {
  pool: Pool;
  messaging: Messaging;
  logger: Logger;
  processEvents: EventProcessor;
  /** Poll interval while events are due; with none, the loop sleeps until the next is due, up to `IDLE_INTERVALS` intervals. */
  intervalMs: number;
  batchSize: number;
  retryDelay(attempts: number): number;
}

/** With nothing due, the loop looks up to this many intervals apart (10 s with the default 1 s). */
const IDLE_INTERVALS = 10;

/**
 * The retry loop of the message center: events whose sending failed for a temporary reason (and events
 * scheduled for later) are tried again when due, any replica, each row locked while it is worked on (SKIP
 * LOCKED). A final outcome is logged and its status stored on the row in the same transaction, then
 * published, then the row deleted: a crash in between publishes it again.
 */
export function startEventRetryWorker(options: EventRetryWorkerOptions, metrics: ReturnType<typeof createMessageCenterMetrics>) {
  const { pool } = options;
  const log = options.logger.child({ module: 'message-center-retry' });

  /** How long until the next event waiting here is due (negative: already due), if there is one. */
  const nextDueInMs = async (): Promise<number | undefined> => {
    const { rows } = await pool.query<{ due_in_ms: number | null }>(
      'SELECT (extract(epoch FROM min(next_attempt_at) - now()) * 1000)::float8 AS due_in_ms FROM cap_mc_retry WHERE verdict IS NULL',
    );
    return rows[0]?.due_in_ms ?? undefined;
  };

  /** Publishes the final outcomes not yet published (a crash in between); how many. */
  const publishVerdicts = async (): Promise<number> => {
    const { rows } = await pool.query<{ queue: string; event_id: string; verdict: MessageCenterStatus }>(
      'SELECT queue, event_id::text, verdict FROM cap_mc_retry WHERE verdict IS NOT NULL ORDER BY first_seen_at LIMIT 1000',
    );
    if (rows.length === 0) return 0;
    await options.messaging.publish(
      TOPICS.messageCenterStatus,
      rows.map((r) => ({ key: r.event_id, payload: r.verdict })),
    );
    await pool.query(
      'DELETE FROM cap_mc_retry r USING unnest($1::text[], $2::bigint[]) AS k(queue, event_id) WHERE r.queue = k.queue AND r.event_id = k.event_id AND r.verdict IS NOT NULL',
      [rows.map((r) => r.queue), rows.map((r) => r.event_id)],
    );
    return rows.length;
  };

  const retryDue = async (): Promise<number> => {
    const outcome = await withTransaction(pool, async (client) => {
      const { rows } = await client.query<{ event: MessageCenterEvent; attempts: number; first_seen_at: Date }>(
        `SELECT event, attempts, first_seen_at FROM cap_mc_retry WHERE verdict IS NULL AND next_attempt_at <= now()
          ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [options.batchSize],
      );
      if (rows.length === 0) return undefined;
      const { verdicts, retries } = await options.processEvents(rows.map((r) => ({ event: r.event, attempts: r.attempts, firstSeenAt: r.first_seen_at })));
      await writeEventLogs(client, verdicts, retries);
      if (verdicts.length > 0) {
        await client.query(
          `UPDATE cap_mc_retry r SET verdict = u.verdict FROM unnest($1::text[], $2::bigint[], $3::jsonb[]) AS u(queue, event_id, verdict)
            WHERE r.queue = u.queue AND r.event_id = u.event_id`,
          [verdicts.map((v) => v.pending.event.queue), verdicts.map((v) => v.pending.event.eventId), verdicts.map((v) => JSON.stringify(statusMessage(v)))],
        );
      }
      await scheduleRetries(
        client,
        retries.map((r) => ({
          event: r.pending.event,
          attempts: r.attempts,
          error: r.error,
          dueAt: new Date(Date.now() + options.retryDelay(r.attempts)),
          firstSeenAt: r.pending.firstSeenAt,
        })),
      );
      return { events: rows.length, verdicts, retries };
    });
    if (!outcome) return 0;
    for (const v of outcome.verdicts) metrics.inc({ outcome: v.status });
    metrics.inc({ outcome: 'retry' }, outcome.retries.length);
    log.info({ event: 'message_center.retried', events: outcome.events, final: outcome.verdicts.length, again: outcome.retries.length }, 'due events retried');
    return outcome.events;
  };

  const worker = startPollingWorker({
    name: 'message-center-retry',
    intervalMs: options.intervalMs,
    idleMaxMs: options.intervalMs * IDLE_INTERVALS,
    firstRound: 'now',
    round: async ({ signal }) => {
      let n: number;
      let done = 0;
      do {
        n = await retryDue();
        done += n + (await publishVerdicts());
      } while (n === options.batchSize && !signal.aborted);
      if (done > 0) return true;
      const dueInMs = await nextDueInMs();
      return dueInMs === undefined ? false : { foundWork: false, dueInMs };
    },
    onError: (err) => log.warn({ event: 'message_center.retry_failed', err: { message: (err as Error).message } }, 'retry round failed; trying again'),
  });

  return {
    name: worker.name,
    /** Events were put in the retry table here (scheduled for later, or failed for now): look again soon. */
    wake: () => worker.wake(),
    stop: () => worker.stop(),
  };
}
