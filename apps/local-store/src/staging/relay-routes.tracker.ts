import { Counter, Gauge, type Registry } from 'prom-client';
import { TOPICS, type StagedChange } from '@cap/contracts';
import type { PoolClient } from '@cap/platform-postgres';
import { RecordOrderRouter, type RoutableChange } from './record-order.router';
import { SUBSCRIPTION_REQUESTS, type StagingSource } from './staging.sources';

/** An outbox row as the relay reads it. */
export interface OutboxRow {
  id: string;
  topic: string;
  message_key: string;
  payload: StagedChange & { seq?: string };
}

export interface RoutedRows {
  /** How many of the rows (from the first) may be published now; the rest wait for a later round. */
  count: number;
  /** Their message keys. */
  keys: string[];
  /** Why the rest wait, when they do. */
  held?: 'links' | 'full';
  sticky: { source: string; seq: string; route: string }[];
}

/**
 * The relay's side of RecordOrderRouter: decides the message key of each staged change, and keeps the router in
 * step with the database — which live changes staging-sync has applied, and, when a relay starts to lead, which
 * changes the previous leader published that are not applied yet (with the routes it gave them).
 */
export class RelayRouteTracker {
  private readonly router: RecordOrderRouter;
  private readonly sources: Map<string, StagingSource>;
  private lastRefresh = 0;
  private readonly metrics;

  constructor(
    sources: StagingSource[],
    keys: ReadonlyMap<string, readonly (readonly string[])[]>,
    private readonly options: { maxLive: number; refreshMs: number; registry: Registry },
  ) {
    this.router = new RecordOrderRouter(keys, options.maxLive);
    this.sources = new Map(sources.map((s) => [s.source, s]));
    const router = this.router;
    this.metrics = {
      sticky: new Counter({
        name: 'cap_outbox_routed_behind_total',
        help: 'Staged changes sent behind a live change of the same record under its key',
        registers: [options.registry],
      }),
      holds: new Counter({
        name: 'cap_outbox_relay_holds_total',
        help: 'Relay rounds cut short to keep the order of a record (links) or because too many changes are in flight (full)',
        labelNames: ['reason'],
        registers: [options.registry],
      }),
      live: new Gauge({
        name: 'cap_outbox_live_changes',
        help: 'Staged changes published and not yet applied in the cloud database, as the relay tracks them',
        registers: [options.registry],
        collect() {
          this.set(router.size);
        },
      }),
    };
  }

  /** Forgets everything (this replica stops leading). */
  reset(): void {
    this.router.reset();
  }

  /**
   * This replica starts to lead: forgets, then restores every staged change that is published (no longer in
   * the outbox) and not yet applied, with the route it travelled under.
   */
  async lead(client: PoolClient): Promise<void> {
    this.router.reset();
    for (const source of this.sources.values()) {
      await client.query(
        `DELETE FROM cap_outbox_route r WHERE r.source = $1 AND NOT EXISTS (SELECT 1 FROM "${source.table}" s WHERE s."${source.seq}" = r.seq AND s."${source.syncedAt}" IS NULL)`,
        [source.source],
      );
      const { rows } = await client.query<{ seq: string; doc: Record<string, unknown>; key_text: string | null; route: string | null }>(
        source.source === SUBSCRIPTION_REQUESTS
          ? `SELECT s.seq::text AS seq, s.recipient AS doc, NULL AS key_text, r.route
               FROM ${SUBSCRIPTION_REQUESTS} s LEFT JOIN cap_outbox_route r ON r.source = $1 AND r.seq = s.seq
              WHERE s.synced_at IS NULL AND NOT EXISTS (SELECT 1 FROM cap_outbox o WHERE o.topic = $2 AND o.payload->>'source' = $1 AND o.payload->>'seq' = s.seq::text)
              ORDER BY s.seq`
          : // The key text exactly as the outbox trigger writes it (cap_outbox_capture).
            `SELECT s.cap_seq::text AS seq, to_jsonb(s) AS doc, r.route,
                    (SELECT string_agg(k.c || '=' || coalesce(to_jsonb(s)->>k.c, ''), ',' ORDER BY k.ord)
                       FROM jsonb_array_elements_text(to_jsonb(s)->'cap_key') WITH ORDINALITY AS k(c, ord)) AS key_text
               FROM "${source.table}" s LEFT JOIN cap_outbox_route r ON r.source = $1 AND r.seq = s.cap_seq
              WHERE s.cap_synced_at IS NULL AND NOT EXISTS (SELECT 1 FROM cap_outbox o WHERE o.topic = $2 AND o.payload->>'source' = $1 AND o.payload->>'seq' = s.cap_seq::text)
              ORDER BY s.cap_seq`,
        [source.source, TOPICS.stagingChanges.name],
      );
      for (const row of rows) {
        const change =
          source.source === SUBSCRIPTION_REQUESTS
            ? subscriptionRoutable(source.source, row.seq, row.doc as unknown as Recipient)
            : stagedRoutable(source, row.seq, row.doc, row.key_text ?? '');
        this.router.restore(change, row.route ?? change.naturalKey);
      }
    }
  }

  /** Releases the live changes staging-sync has applied (at most every refreshMs unless forced). */
  async refresh(client: PoolClient, force = false): Promise<void> {
    const now = Date.now();
    if (this.router.size === 0 || (!force && now - this.lastRefresh < this.options.refreshMs)) return;
    this.lastRefresh = now;
    for (const [name, seqs] of this.router.oldestLive(5_000)) {
      const source = this.sources.get(name);
      if (!source) {
        this.router.release(name, seqs);
        continue;
      }
      // Applied = marked synced (or dead-lettered) by the acknowledgements, or already purged.
      const { rows } = await client.query<{ seq: string }>(
        `SELECT x::text AS seq FROM unnest($1::bigint[]) AS x WHERE NOT EXISTS (SELECT 1 FROM "${source.table}" s WHERE s."${source.seq}" = x AND s."${source.syncedAt}" IS NULL)`,
        [seqs],
      );
      const sticky = this.router.release(
        name,
        rows.map((r) => r.seq),
      );
      if (sticky.length) await client.query('DELETE FROM cap_outbox_route WHERE source = $1 AND seq = ANY($2::bigint[])', [name, sticky]);
    }
  }

  /** Routes a round's rows in outbox order, stopping at the first one that must wait. */
  route(rows: OutboxRow[]): RoutedRows {
    const keys: string[] = [];
    const sticky: RoutedRows['sticky'] = [];
    for (const row of rows) {
      if (row.topic !== TOPICS.stagingChanges.name || row.payload.seq === undefined) {
        keys.push(row.message_key);
        continue;
      }
      const p = row.payload;
      const change: RoutableChange =
        p.kind === 'record'
          ? { source: p.source, seq: p.seq, schema: p.schema, keyColumns: p.keyColumns, record: p.record, naturalKey: row.message_key }
          : {
              source: p.source,
              seq: p.seq,
              schema: 'nms:recipient',
              keyColumns: p.recipient.keyColumns,
              record: p.recipient.record,
              naturalKey: row.message_key,
            };
      const decision = this.router.route(change);
      if ('hold' in decision) {
        this.metrics.holds.inc({ reason: decision.hold });
        return { count: keys.length, keys, held: decision.hold, sticky };
      }
      if (decision.sticky) {
        sticky.push({ source: change.source, seq: change.seq, route: decision.route });
        this.metrics.sticky.inc();
      }
      keys.push(decision.route);
    }
    return { count: keys.length, keys, sticky };
  }

  /** Stores the routes given against the record's own key (in the round's transaction). */
  async persist(client: PoolClient, sticky: RoutedRows['sticky']): Promise<void> {
    if (sticky.length === 0) return;
    await client.query(
      `INSERT INTO cap_outbox_route (source, seq, route) SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])
       ON CONFLICT (source, seq) DO UPDATE SET route = EXCLUDED.route`,
      [sticky.map((s) => s.source), sticky.map((s) => s.seq), sticky.map((s) => s.route)],
    );
  }
}

interface Recipient {
  keyColumns: string[];
  record: Record<string, unknown>;
}

const STAGING_META = ['cap_seq', 'cap_op', 'cap_staged_at', 'cap_synced_at', 'cap_fields', 'cap_key'];

function stagedRoutable(source: StagingSource, seq: string, doc: Record<string, unknown>, keyText: string): RoutableChange {
  const keyColumns = Array.isArray(doc['cap_key']) ? (doc['cap_key'] as string[]) : [];
  const record: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) if (!STAGING_META.includes(k)) record[k] = v;
  return { source: source.source, seq, schema: source.target, keyColumns, record, naturalKey: `${source.target}|${keyText}` };
}

/** As subscription.rpc-handlers.ts keys a Subscribe request: like the recipient's own staged rows. */
function subscriptionRoutable(source: string, seq: string, recipient: Recipient): RoutableChange {
  const naturalKey = `nms:recipient|${recipient.keyColumns.map((c) => `${c}=${String(recipient.record[c])}`).join(',')}`;
  return { source, seq, schema: 'nms:recipient', keyColumns: recipient.keyColumns, record: recipient.record, naturalKey };
}
