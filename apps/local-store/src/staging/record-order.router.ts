import type { Schema } from '@cap/campaign-schema';

/**
 * Keeps the changes of one record in one order when they name the record by different keys.
 *
 * A staged change travels on the Kafka partition of its message key (`schema|key`), so the changes of one key
 * are applied in order. An `Ingest` keyed by `@id` and an `IngestExt` of the same recipient keyed by `@email`
 * have two keys: on two partitions they could be applied in either order. The router sees every staged change
 * the relay publishes, in outbox order, and remembers the changes not yet applied in the cloud database
 * ("live"), indexed by each key they carry values for (the schema's keys, and every `_key` callers used). A
 * change that shares a key value with a live change is sent under that change's route (message key) instead of
 * its own, so it lands behind it on the same partition. A change that would join two live changes on different
 * routes, or that arrives when too many changes are live, is held until they are applied.
 *
 * (This file was staging.router.ts; migration 0004_staging_routes.sql still names it so, as applied migrations
 * never change.)
 */
export interface RoutableChange {
  /** The staging source (staging schema id, or the Subscribe requests table): with seq, identifies the change. */
  source: string;
  seq: string;
  /** The cloud schema whose keys the change names (for Subscribe: nms:recipient). */
  schema: string;
  keyColumns: readonly string[];
  record: Readonly<Record<string, unknown>>;
  /** The message key the change has by itself: `schema|key`. */
  naturalKey: string;
}

export type RouteDecision =
  | { route: string; sticky: boolean }
  /** links: the change joins live changes on two routes; full: too many live changes. */
  | { hold: 'links' | 'full' };

interface LiveChange {
  source: string;
  seq: string;
  schema: string;
  route: string;
  record: Readonly<Record<string, unknown>>;
  sticky: boolean;
  keyValues: string[];
}

/** Each staged cloud schema's keys, as column lists (the primary key among them). */
export function schemaKeyColumns(schemas: ReadonlyMap<string, Schema>): Map<string, string[][]> {
  const out = new Map<string, string[][]>();
  for (const schema of schemas.values()) {
    if (!schema.stagingSchema) continue;
    const defs: string[][] = [];
    for (const key of schema.keys) {
      const columns = key.fields.map((xpath) => schema.fields.find((f) => f.xpath === xpath)?.column);
      if (columns.length > 0 && columns.every((c): c is string => c !== undefined)) defs.push(columns);
    }
    out.set(schema.id, defs);
  }
  return out;
}

function valueText(value: unknown): string {
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

export class RecordOrderRouter {
  /** Key definitions per schema, as `col1,col2` (seeded from the schemas, grown from the changes seen). */
  private readonly keyDefs = new Map<string, Map<string, readonly string[]>>();
  /** Live changes per source, by seq, oldest first. */
  private readonly live = new Map<string, Map<string, LiveChange>>();
  /**
   * Routes of the live changes, by key value: how many live changes carrying that value travel on each route
   * (one route, except after a key definition is learned late). Counts, not lists: a hot key with thousands of
   * live changes (a cloud outage) costs one lookup per change.
   */
  private readonly index = new Map<string, Map<string, number>>();
  private liveCount = 0;

  constructor(
    private readonly seedKeys: ReadonlyMap<string, readonly (readonly string[])[]>,
    private readonly maxLive: number,
  ) {
    this.reset();
  }

  get size(): number {
    return this.liveCount;
  }

  /** Forgets every live change (a relay that stops leading, or starts to). */
  reset(): void {
    this.keyDefs.clear();
    this.live.clear();
    this.index.clear();
    this.liveCount = 0;
    for (const [schema, defs] of this.seedKeys)
      for (const def of defs) this.keyDefs.set(schema, (this.keyDefs.get(schema) ?? new Map()).set(def.join(','), def));
  }

  /** Decides a change's message key and records it as live. Call in outbox order. */
  route(change: RoutableChange): RouteDecision {
    // Routed before (the relay retries a round that failed): decided again against the others.
    const keyValues = this.untrack(change);
    const routes = new Set<string>();
    for (const kv of keyValues) for (const route of this.index.get(kv)?.keys() ?? []) routes.add(route);
    if (routes.size > 1) return { hold: 'links' };
    if (this.liveCount >= this.maxLive) return { hold: 'full' };
    const route = routes.size === 1 ? [...routes][0]! : change.naturalKey;
    this.add(change, route, keyValues);
    return { route, sticky: route !== change.naturalKey };
  }

  /**
   * Records a change published before this router existed (rebuilt from the staging tables when a relay starts
   * to lead), with the route it was published under.
   */
  restore(change: RoutableChange, route: string): void {
    this.add(change, route, this.untrack(change));
  }

  /** The oldest live changes of each source (to ask the database which are applied). */
  oldestLive(limit: number): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [source, changes] of this.live) {
      const seqs: string[] = [];
      for (const seq of changes.keys()) {
        if (seqs.length >= limit) break;
        seqs.push(seq);
      }
      if (seqs.length) out.set(source, seqs);
    }
    return out;
  }

  /** Changes applied in the cloud database (or dead-lettered): no longer live. Returns those that were sticky. */
  release(source: string, seqs: readonly string[]): string[] {
    const sticky: string[] = [];
    const changes = this.live.get(source);
    if (!changes) return sticky;
    for (const seq of seqs) {
      const entry = changes.get(seq);
      if (!entry) continue;
      if (entry.sticky) sticky.push(seq);
      this.forget(entry);
    }
    return sticky;
  }

  /**
   * Learns the change's key definition, forgets the change if it is live already, and returns the key values
   * it carries.
   */
  private untrack(change: RoutableChange): string[] {
    this.learn(change.schema, change.keyColumns);
    const known = this.live.get(change.source)?.get(change.seq);
    if (known) this.forget(known);
    return this.keyValuesOf(change.schema, change.record);
  }

  private add(change: RoutableChange, route: string, keyValues: string[]): void {
    const entry: LiveChange = {
      source: change.source,
      seq: change.seq,
      schema: change.schema,
      route,
      record: change.record,
      sticky: route !== change.naturalKey,
      keyValues,
    };
    let changes = this.live.get(entry.source);
    if (!changes) this.live.set(entry.source, (changes = new Map()));
    changes.set(entry.seq, entry);
    this.liveCount++;
    for (const kv of entry.keyValues) this.indexAt(kv, entry.route);
  }

  private indexAt(kv: string, route: string): void {
    const routes = this.index.get(kv);
    if (routes) routes.set(route, (routes.get(route) ?? 0) + 1);
    else this.index.set(kv, new Map([[route, 1]]));
  }

  private forget(entry: LiveChange): void {
    const changes = this.live.get(entry.source)!;
    changes.delete(entry.seq);
    if (changes.size === 0) this.live.delete(entry.source);
    this.liveCount--;
    for (const kv of entry.keyValues) {
      const routes = this.index.get(kv);
      const count = routes?.get(entry.route);
      if (!routes || count === undefined) continue;
      if (count > 1) routes.set(entry.route, count - 1);
      else routes.delete(entry.route);
      if (routes.size === 0) this.index.delete(kv);
    }
  }

  /** A key definition seen for the first time: the live changes of its schema are indexed by it too. */
  private learn(schema: string, keyColumns: readonly string[]): void {
    const name = keyColumns.join(',');
    let defs = this.keyDefs.get(schema);
    if (!defs) this.keyDefs.set(schema, (defs = new Map()));
    if (defs.has(name)) return;
    defs.set(name, [...keyColumns]);
    for (const changes of this.live.values()) {
      for (const entry of changes.values()) {
        if (entry.schema !== schema) continue;
        const kv = keyValueOf(schema, keyColumns, entry.record);
        if (kv === undefined) continue;
        entry.keyValues.push(kv);
        this.indexAt(kv, entry.route);
      }
    }
  }

  private keyValuesOf(schema: string, record: Readonly<Record<string, unknown>>): string[] {
    const out: string[] = [];
    for (const def of this.keyDefs.get(schema)?.values() ?? []) {
      const kv = keyValueOf(schema, def, record);
      if (kv !== undefined) out.push(kv);
    }
    return out;
  }
}

/** `schema|col=value,…` for a record that has a value for every column of the key; undefined otherwise. */
function keyValueOf(schema: string, columns: readonly string[], record: Readonly<Record<string, unknown>>): string | undefined {
  let text = `${schema}|`;
  for (let i = 0; i < columns.length; i++) {
    const value = record[columns[i]!];
    if (value === null || value === undefined || value === '') return undefined;
    text += `${i ? ',' : ''}${columns[i]}=${valueText(value)}`;
  }
  return text;
}
