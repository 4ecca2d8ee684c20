import type { RecordChange } from '@cap/contracts';

/** What one key's changes in a batch amount to, applied once. */
export interface FoldedChange {
  schema: string;
  source: string;
  keyColumns: string[];
  /** Identifies the record for the per-key sequence check: key columns and values. */
  keyText: string;
  /** The newest sequence folded in: the key's watermark after this batch. */
  seq: bigint;
  /** upsert: update or insert; delete; replace: delete, then insert the later version (a re-created row). */
  op: 'upsert' | 'delete' | 'replace';
  /** Columns to write (keys included), for upsert and replace. */
  fields: string[];
  record: Record<string, unknown>;
  /** When the newest change was recorded locally (for the lag metric). */
  recordedAt: string;
}

export function keyTextOf(keyColumns: string[], record: Record<string, unknown>): string {
  return keyColumns.map((c) => `${c}=${textOf(record[c]) ?? ''}`).join(',');
}

/** A JSON value as the text PostgreSQL casts from (null stays null). */
export function textOf(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * Folds a batch's record changes per (source, key) in sequence order — last writer wins, field by field:
 * a later partial update overrides only the fields it carries; a delete wipes what came before; an upsert
 * after a delete re-creates the row with the later fields only. Changes at or below the key's watermark
 * (already applied: a redelivery) are dropped, so an older change never overwrites a newer one.
 */
export function foldChanges(
  changes: RecordChange[],
  watermarks: ReadonlyMap<string, bigint>,
  keyTexts?: readonly string[],
): { folded: FoldedChange[]; stale: number } {
  // Key text and sequence are worked out once per change (a batch holds thousands; most keys come once).
  const byKey = new Map<string, { keyText: string; items: { change: RecordChange; seq: bigint }[] }>();
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i]!;
    const keyText = keyTexts?.[i] ?? keyTextOf(c.keyColumns, c.record);
    const id = watermarkId(c.source, keyText);
    const entry = byKey.get(id);
    const item = { change: c, seq: BigInt(c.seq) };
    if (entry) entry.items.push(item);
    else byKey.set(id, { keyText, items: [item] });
  }
  const folded: FoldedChange[] = [];
  let stale = 0;
  for (const [id, { keyText, items }] of byKey) {
    if (items.length > 1) items.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
    const watermark = watermarks.get(id) ?? -1n;
    let state: FoldedChange | undefined;
    for (const { change: c, seq } of items) {
      if (seq <= watermark || (state && seq === state.seq)) {
        stale++;
        continue;
      }
      // A change naming no fields writes its whole record as it came: no copy needed.
      const fields = c.op === 'delete' ? [...c.keyColumns] : (c.fields ?? Object.keys(c.record));
      const record = c.op !== 'delete' && !c.fields ? c.record : Object.fromEntries(fields.map((f) => [f, c.record[f] ?? null]));
      // Built as literals, not by spreading a shared base: a spread of a computed object is the slow path in V8.
      if (c.op === 'delete') state = folding(c, keyText, seq, 'delete', fields, record);
      else if (!state) state = folding(c, keyText, seq, 'upsert', fields, record);
      else if (state.op === 'delete') state = folding(c, keyText, seq, 'replace', fields, record);
      else state = folding(c, keyText, seq, state.op, [...new Set([...state.fields, ...fields])], { ...state.record, ...record });
    }
    if (state) folded.push(state);
  }
  return { folded, stale };
}

function folding(c: RecordChange, keyText: string, seq: bigint, op: FoldedChange['op'], fields: string[], record: Record<string, unknown>): FoldedChange {
  return { schema: c.schema, source: c.source, keyColumns: c.keyColumns, keyText, seq, op, fields, record, recordedAt: c.recordedAt };
}

export function watermarkId(source: string, keyText: string): string {
  return `${source}\u0000${keyText}`;
}
