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
export function foldChanges(changes: RecordChange[], watermarks: ReadonlyMap<string, bigint>): { folded: FoldedChange[]; stale: number } {
  const byKey = new Map<string, RecordChange[]>();
  for (const c of changes) {
    const id = `${c.source}\u0000${keyTextOf(c.keyColumns, c.record)}`;
    const list = byKey.get(id) ?? [];
    list.push(c);
    byKey.set(id, list);
  }
  const folded: FoldedChange[] = [];
  let stale = 0;
  for (const list of byKey.values()) {
    list.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : BigInt(a.seq) > BigInt(b.seq) ? 1 : 0));
    const first = list[0]!;
    const keyText = keyTextOf(first.keyColumns, first.record);
    const watermark = watermarks.get(watermarkId(first.source, keyText)) ?? -1n;
    let state: FoldedChange | undefined;
    for (const c of list) {
      const seq = BigInt(c.seq);
      if (seq <= watermark || (state && seq === state.seq)) {
        stale++;
        continue;
      }
      const fields = c.op === 'delete' ? [...c.keyColumns] : (c.fields ?? Object.keys(c.record));
      const record = Object.fromEntries(fields.map((f) => [f, c.record[f] ?? null]));
      const base = { schema: c.schema, source: c.source, keyColumns: c.keyColumns, keyText, seq, recordedAt: c.recordedAt };
      if (c.op === 'delete') state = { ...base, op: 'delete', fields, record };
      else if (!state) state = { ...base, op: 'upsert', fields, record };
      else if (state.op === 'delete') state = { ...base, op: 'replace', fields, record };
      else state = { ...base, op: state.op, fields: [...new Set([...state.fields, ...fields])], record: { ...state.record, ...record } };
    }
    if (state) folded.push(state);
  }
  return { folded, stale };
}

export function watermarkId(source: string, keyText: string): string {
  return `${source}\u0000${keyText}`;
}
