import type { PoolClient } from '@cap/platform-postgres';
import type { EventRetry, EventVerdict } from './event.processor';

type Queryable = Pick<PoolClient, 'query'>;

/** What one flush adds to one nms:eventStat row (event type, UTC day). */
interface EventStatRow {
  type: string;
  day: string;
  processed: number;
  sent: number;
  failed: number;
  ignored: number;
  expired: number;
  retried: number;
  latency: bigint;
  last: Date | null;
}

/**
 * Writes final outcomes to nms:broadLogEvent (one row per event; a row that exists already is kept, so a
 * redelivered event is logged once) and adds them to nms:eventStat (per event type and UTC day), in the
 * caller's transaction. Returns the events actually logged now.
 */
export async function writeEventLogs(client: Queryable, verdicts: EventVerdict[], retried: EventRetry[]): Promise<number> {
  let logged = 0;
  if (verdicts.length > 0) {
    const { rows } = await client.query<{ event_type: string; day: string; status: number; latency: string; event_date: Date }>(
      `INSERT INTO nms_broad_log_event (id, queue, event_id, event_type, delivery_id, status, failure_reason, failure_text, address, attempts, event_created, event_date)
       SELECT gen_random_uuid()::text, u.queue, u.event_id, u.event_type, u.delivery_id, u.status, u.reason, u.text, u.address, u.attempts, u.created, u.processed
         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::smallint[], $6::smallint[], $7::text[], $8::text[], $9::smallint[], $10::timestamptz[], $11::timestamptz[])
              AS u(queue, event_id, event_type, delivery_id, status, reason, text, address, attempts, created, processed)
       ON CONFLICT (queue, event_id) DO NOTHING
       RETURNING event_type, to_char(event_date AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, status,
                 greatest(0, extract(epoch FROM (event_date - coalesce(event_created, event_date))) * 1000)::bigint::text AS latency, event_date`,
      [
        verdicts.map((v) => v.pending.event.queue),
        verdicts.map((v) => v.pending.event.eventId),
        verdicts.map((v) => v.pending.event.type),
        verdicts.map((v) => v.deliveryId ?? null),
        verdicts.map((v) => v.logStatus),
        verdicts.map((v) => v.reason),
        verdicts.map((v) => v.text ?? null),
        verdicts.map((v) => v.address?.slice(0, 128) ?? null),
        verdicts.map((v) => Math.min(v.attempts, 32_767)),
        verdicts.map((v) => v.pending.event.created),
        verdicts.map((v) => v.processedAt),
      ],
    );
    logged = rows.length;
    const stats = new Map<string, EventStatRow & { last: Date }>();
    const statFor = (type: string, day: string) => {
      const key = `${type}\u0000${day}`;
      let s = stats.get(key);
      if (!s) stats.set(key, (s = { type, day, processed: 0, sent: 0, failed: 0, ignored: 0, expired: 0, retried: 0, latency: 0n, last: new Date(0) }));
      return s;
    };
    for (const r of rows) {
      const s = statFor(r.event_type, r.day);
      s.processed++;
      if (r.status === 1) s.sent++;
      else if (r.status === 2) s.failed++;
      else if (r.status === 3) s.ignored++;
      else if (r.status === 4) s.expired++;
      s.latency += BigInt(r.latency);
      if (r.event_date > s.last) s.last = r.event_date;
    }
    const today = new Date().toISOString().slice(0, 10);
    for (const r of retried) statFor(r.pending.event.type, today).retried++;
    await upsertStats(client, [...stats.values()]);
  } else if (retried.length > 0) {
    const today = new Date().toISOString().slice(0, 10);
    const counts = new Map<string, number>();
    for (const r of retried) counts.set(r.pending.event.type, (counts.get(r.pending.event.type) ?? 0) + 1);
    await upsertStats(
      client,
      [...counts].map(([type, n]) => ({ type, day: today, processed: 0, sent: 0, failed: 0, ignored: 0, expired: 0, retried: n, latency: 0n, last: null })),
    );
  }
  return logged;
}

async function upsertStats(client: Queryable, stats: EventStatRow[]): Promise<void> {
  if (stats.length === 0) return;
  // A fixed order: concurrent batches lock the same stat rows in the same order (no deadlock).
  stats.sort((a, b) => (a.type === b.type ? a.day.localeCompare(b.day) : a.type.localeCompare(b.type)));
  await client.query(
    `INSERT INTO nms_event_stat AS s (id, event_type, day, processed, sent, failed, ignored, expired, retried, latency_ms_total, last_event)
     SELECT gen_random_uuid()::text, u.event_type, u.day, u.processed, u.sent, u.failed, u.ignored, u.expired, u.retried, u.latency, u.last
       FROM unnest($1::text[], $2::date[], $3::int[], $4::int[], $5::int[], $6::int[], $7::int[], $8::int[], $9::bigint[], $10::timestamptz[])
            AS u(event_type, day, processed, sent, failed, ignored, expired, retried, latency, last)
     ON CONFLICT (event_type, day) DO UPDATE SET
       processed = s.processed + EXCLUDED.processed, sent = s.sent + EXCLUDED.sent, failed = s.failed + EXCLUDED.failed,
       ignored = s.ignored + EXCLUDED.ignored, expired = s.expired + EXCLUDED.expired, retried = s.retried + EXCLUDED.retried,
       latency_ms_total = s.latency_ms_total + EXCLUDED.latency_ms_total, last_event = greatest(s.last_event, EXCLUDED.last_event)`,
    [
      stats.map((s) => s.type),
      stats.map((s) => s.day),
      stats.map((s) => s.processed),
      stats.map((s) => s.sent),
      stats.map((s) => s.failed),
      stats.map((s) => s.ignored),
      stats.map((s) => s.expired),
      stats.map((s) => s.retried),
      stats.map((s) => s.latency.toString()),
      stats.map((s) => s.last),
    ],
  );
}

/** Puts events into (or keeps them in) the retry table: due again after `delayMs`. */
export async function scheduleRetries(
  client: Queryable,
  retries: { event: EventRetry['pending']['event']; attempts: number; error: string | null; dueAt: Date; firstSeenAt: Date }[],
): Promise<void> {
  if (retries.length === 0) return;
  await client.query(
    `INSERT INTO cap_mc_retry (queue, event_id, event, attempts, next_attempt_at, last_error, first_seen_at)
     SELECT u.queue, u.event_id, u.event, u.attempts, u.due, u.error, u.first_seen
       FROM unnest($1::text[], $2::bigint[], $3::jsonb[], $4::int[], $5::timestamptz[], $6::text[], $7::timestamptz[]) AS u(queue, event_id, event, attempts, due, error, first_seen)
     ON CONFLICT (queue, event_id) DO UPDATE SET attempts = EXCLUDED.attempts, next_attempt_at = EXCLUDED.next_attempt_at, last_error = EXCLUDED.last_error
       WHERE cap_mc_retry.verdict IS NULL`,
    [
      retries.map((r) => r.event.queue),
      retries.map((r) => r.event.eventId),
      retries.map((r) => JSON.stringify(r.event)),
      retries.map((r) => r.attempts),
      retries.map((r) => r.dueAt),
      retries.map((r) => r.error),
      retries.map((r) => r.firstSeenAt),
    ],
  );
}
