import { TOPICS, type MessageCenterEvent, type MessageCenterStatus } from '@cap/contracts';
import type { Messaging } from '@cap/platform-kafka';
import type { Logger } from '@cap/platform-logger';
import type { Pool } from '@cap/platform-postgres';
import { scheduleRetries, writeEventLogs } from './event-log.store';
import { statusMessage, type EventProcessor } from './event.processor';
import type { createMessageCenterMetrics } from './event.consumer';

export interface EventRetryWorkerOptions {
  pool: Pool;
  messaging: Messaging;
  logger: Logger;
  processEvents: EventProcessor;
  intervalMs: number;
  batchSize: number;
  retryDelay(attempts: number): number;
}

/**
 * The retry loop of the message center: events whose sending failed for a temporary reason (and events
 * scheduled for later) are tried again when due, any replica, each row locked while it is worked on (SKIP
 * LOCKED). A final outcome is logged and its status stored on the row in the same transaction, then
 * published, then the row deleted: a crash in between publishes it again.
 */
export function startEventRetryWorker(options: EventRetryWorkerOptions, metrics: ReturnType<typeof createMessageCenterMetrics>) {
  const { pool } = options;
  const log = options.logger.child({ module: 'message-center-retry' });
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;

  const publishVerdicts = async () => {
    const { rows } = await pool.query<{ queue: string; event_id: string; verdict: MessageCenterStatus }>(
      'SELECT queue, event_id::text, verdict FROM cap_mc_retry WHERE verdict IS NOT NULL ORDER BY first_seen_at LIMIT 1000',
    );
    if (rows.length === 0) return;
    await options.messaging.publish(TOPICS.messageCenterStatus, rows.map((r) => ({ key: r.event_id, payload: r.verdict })));
    await pool.query('DELETE FROM cap_mc_retry r USING unnest($1::text[], $2::bigint[]) AS k(queue, event_id) WHERE r.queue = k.queue AND r.event_id = k.event_id AND r.verdict IS NOT NULL', [
      rows.map((r) => r.queue),
      rows.map((r) => r.event_id),
    ]);
  };

  const retryDue = async (): Promise<number> => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ event: MessageCenterEvent; attempts: number; first_seen_at: Date }>(
        `SELECT event, attempts, first_seen_at FROM cap_mc_retry WHERE verdict IS NULL AND next_attempt_at <= now()
          ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [options.batchSize],
      );
      if (rows.length === 0) {
        await client.query('COMMIT');
        return 0;
      }
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
        retries.map((r) => ({ event: r.pending.event, attempts: r.attempts, error: r.error, dueAt: new Date(Date.now() + options.retryDelay(r.attempts)), firstSeenAt: r.pending.firstSeenAt })),
      );
      await client.query('COMMIT');
      for (const v of verdicts) metrics.inc({ outcome: v.status });
      metrics.inc({ outcome: 'retry' }, retries.length);
      log.info({ event: 'message_center.retried', events: rows.length, final: verdicts.length, again: retries.length }, 'due events retried');
      return rows.length;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  };

  const loop = (async () => {
    while (!stopped) {
      try {
        let n: number;
        do {
          n = await retryDue();
          await publishVerdicts();
        } while (n === options.batchSize && !stopped);
      } catch (err) {
        log.warn({ event: 'message_center.retry_failed', err: { message: (err as Error).message } }, 'retry round failed; trying again');
      }
      if (stopped) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, options.intervalMs);
      });
    }
  })();

  return {
    name: 'message-center-retry',
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      wake?.();
      await loop;
    },
  };
}
