import type { QuarantineEntry } from '@cap/platform-kafka';
import { Gauge, type Registry } from 'prom-client';
import { withTransaction, type Pool } from './pg.pool';

/**
 * The quarantine table (one per database that has consumers: the local database for local-store, the cloud database
 * for staging-sync and cloud-executor). Created at service start, idempotently.
 */
export const QUARANTINE_DDL = `
CREATE TABLE IF NOT EXISTS cap_quarantine (
  id             bigserial   PRIMARY KEY,
  consumer       text        NOT NULL,
  topic          text        NOT NULL,
  partition      integer     NOT NULL,
  "offset"       text        NOT NULL,
  message_key    text,
  value          bytea,
  headers        jsonb       NOT NULL DEFAULT '{}',
  reason_code    text        NOT NULL,
  reason         text        NOT NULL,
  state          text        NOT NULL CHECK (state IN ('quarantined', 'held', 'replay', 'replaying')),
  quarantined_at timestamptz NOT NULL DEFAULT now(),
  claimed_at     timestamptz,
  UNIQUE (consumer, topic, partition, "offset")
);
CREATE INDEX IF NOT EXISTS cap_quarantine_key ON cap_quarantine (consumer, message_key) WHERE state = 'quarantined';
CREATE INDEX IF NOT EXISTS cap_quarantine_replay ON cap_quarantine (consumer, id) WHERE state = 'replay';
`;

/** Any constant: services sharing a database create the table one at a time. */
const DDL_LOCK = 7_245_010;

export async function ensureQuarantineTable(pool: Pool): Promise<void> {
  await withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK]);
    await client.query(QUARANTINE_DDL);
  });
}

/** A quarantined message as an administrator sees it. */
export interface QuarantineRow {
  id: string;
  consumer: string;
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  reasonCode: string;
  reason: string;
  state: 'quarantined' | 'held' | 'replay' | 'replaying';
  quarantinedAt: Date;
  /** The message as it was received (JSON text for the platform's envelopes). */
  value: string | null;
}

/**
 * The quarantine over PostgreSQL (the MessageQuarantine of @cap/platform-kafka, and the outbox relay's). Whether a
 * consumer has anything quarantined is cached for `cacheMs`, so a consumer with an empty quarantine — the usual
 * case — looks nothing up per message.
 */
export function createPgQuarantine(pool: Pool, options: { cacheMs?: number } = {}) {
  const cacheMs = options.cacheMs ?? 1_000;
  const known = new Map<string, { value: boolean; until: number }>();
  return {
    async hasQuarantined(consumer: string): Promise<boolean> {
      const hit = known.get(consumer);
      if (hit && hit.until > Date.now()) return hit.value;
      const { rows } = await pool.query<{ found: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM cap_quarantine WHERE consumer = $1 AND state = 'quarantined') AS found`,
        [consumer],
      );
      known.set(consumer, { value: rows[0]!.found, until: Date.now() + cacheMs });
      return rows[0]!.found;
    },
    async heldKeys(consumer: string, keys: string[]): Promise<Set<string>> {
      const { rows } = await pool.query<{ k: string }>(
        `SELECT DISTINCT message_key AS k FROM cap_quarantine WHERE consumer = $1 AND state = 'quarantined' AND message_key = ANY($2::text[])`,
        [consumer, keys],
      );
      return new Set(rows.map((r) => r.k));
    },
    /** Stores entries (in `db`'s transaction when given: the outbox relay moves rows in one). */
    async put(entries: QuarantineEntry[], db: Pick<Pool, 'query'> = pool): Promise<void> {
      if (entries.length === 0) return;
      await db.query(
        `INSERT INTO cap_quarantine (consumer, topic, partition, "offset", message_key, value, headers, reason_code, reason, state)
         SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::bytea[], $7::jsonb[], $8::text[], $9::text[], $10::text[])
         ON CONFLICT (consumer, topic, partition, "offset") DO NOTHING`,
        [
          entries.map((e) => e.consumer),
          entries.map((e) => e.topic),
          entries.map((e) => e.partition),
          entries.map((e) => e.offset),
          entries.map((e) => e.key),
          entries.map((e) => e.value),
          entries.map((e) => JSON.stringify(e.headers)),
          entries.map((e) => e.reasonCode),
          entries.map((e) => e.reason),
          entries.map((e) => e.state),
        ],
      );
      for (const e of entries) if (e.state === 'quarantined') known.set(e.consumer, { value: true, until: Date.now() + cacheMs });
    },
    /**
     * Claims released messages (each replica of a service runs a replayer: a row is claimed by one), oldest first;
     * a claim older than a minute (its replica died before `replayed`) is taken again.
     */
    async takeReplays(consumers: string[], limit: number) {
      const { rows } = await pool.query<{
        id: string;
        consumer: string;
        topic: string;
        message_key: string | null;
        value: Buffer | null;
        headers: Record<string, string>;
      }>(
        `UPDATE cap_quarantine SET state = 'replaying', claimed_at = now()
          WHERE id IN (SELECT id FROM cap_quarantine
                        WHERE consumer = ANY($1::text[]) AND (state = 'replay' OR (state = 'replaying' AND claimed_at < now() - interval '1 minute'))
                        ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
          RETURNING id::text, consumer, topic, message_key, value, headers`,
        [consumers, limit],
      );
      rows.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
      return rows.map((r) => ({ id: r.id, consumer: r.consumer, topic: r.topic, key: r.message_key, value: r.value, headers: r.headers }));
    },
    async replayed(ids: string[]): Promise<void> {
      if (ids.length > 0) await pool.query('DELETE FROM cap_quarantine WHERE id = ANY($1::bigint[])', [ids]);
    },
    /** Counts by consumer and state (metrics, status pages). */
    async counts(): Promise<{ consumer: string; state: string; count: number }[]> {
      const { rows } = await pool.query<{ consumer: string; state: string; n: string }>(
        'SELECT consumer, state, count(*) AS n FROM cap_quarantine GROUP BY consumer, state',
      );
      return rows.map((r) => ({ consumer: r.consumer, state: r.state, count: Number(r.n) }));
    },
  };
}

export type PgQuarantine = ReturnType<typeof createPgQuarantine>;

/**
 * An administrator's decision (`npm run quarantine`). Replay: the message and the ones held behind it (same
 * consumer and key) go back to their topic, oldest first, through the service that owns the consumer. Discard: the
 * message is deleted and the ones held behind it are released (replayed) in order.
 */
export async function releaseQuarantined(pool: Pool, id: string, decision: 'replay' | 'discard'): Promise<{ released: number; discarded: number }> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ consumer: string; message_key: string | null }>(
      `SELECT consumer, message_key FROM cap_quarantine WHERE id = $1 FOR UPDATE`,
      [id],
    );
    const head = rows[0];
    if (!head) throw new Error(`no quarantined message ${id}`);
    let discarded = 0;
    if (decision === 'discard') discarded = (await client.query('DELETE FROM cap_quarantine WHERE id = $1', [id])).rowCount ?? 0;
    const released = await client.query(
      `UPDATE cap_quarantine SET state = 'replay' WHERE consumer = $1 AND (id = $2 OR (message_key IS NOT DISTINCT FROM $3 AND state = 'held' AND $3::text IS NOT NULL))`,
      [head.consumer, id, head.message_key],
    );
    return { released: released.rowCount ?? 0, discarded };
  });
}

/** The quarantine as an administrator lists it (newest first). */
export async function listQuarantined(pool: Pool, options: { consumer?: string; limit?: number } = {}): Promise<QuarantineRow[]> {
  const { rows } = await pool.query<{
    id: string;
    consumer: string;
    topic: string;
    partition: number;
    offset: string;
    message_key: string | null;
    reason_code: string;
    reason: string;
    state: QuarantineRow['state'];
    quarantined_at: Date;
    value: Buffer | null;
  }>(
    `SELECT id::text, consumer, topic, partition, "offset", message_key, reason_code, reason, state, quarantined_at, value FROM cap_quarantine
      WHERE ($1::text IS NULL OR consumer = $1) ORDER BY id DESC LIMIT $2`,
    [options.consumer ?? null, options.limit ?? 100],
  );
  return rows.map((r) => ({
    id: r.id,
    consumer: r.consumer,
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    key: r.message_key,
    reasonCode: r.reason_code,
    reason: r.reason,
    state: r.state,
    quarantinedAt: r.quarantined_at,
    value: r.value === null ? null : r.value.toString('utf8'),
  }));
}

/** `cap_quarantine_messages{consumer,state}` in `/metrics`, read from the table at each scrape. */
export function registerQuarantineGauge(registry: Registry, quarantine: PgQuarantine): void {
  new Gauge({
    name: 'cap_quarantine_messages',
    help: 'Messages set aside by a consumer (quarantined: failed; held: waiting behind one of their key; replay: released by an administrator)',
    labelNames: ['consumer', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const c of await quarantine.counts().catch(() => [])) this.set({ consumer: c.consumer, state: c.state }, c.count);
    },
  });
}
