import type { RecordChange, StagedChange, SubscriptionChange } from '@cap/contracts';
import { appErrorWithText, ErrorCatalogue, isAppError } from '@cap/platform-errors';
import { classifyPgError, type PoolClient } from '@cap/platform-postgres';
import { foldChanges, keyTextOf, textOf, watermarkId, type FoldedChange } from './change.fold';
import { cloudIdent as q, deleteStatement, poison, upsertStatement } from './cloud.statements';
import type { CloudTable } from './cloud.tables';

export interface ApplyOutcome {
  /** Changes written (after folding). */
  applied: { schema: string; op: FoldedChange['op'] | 'subscribe' | 'unsubscribe'; count: number }[];
  /** Changes skipped because a newer one for their key was already applied (redeliveries). */
  stale: number;
}

/**
 * Applies a batch, in the caller's transaction, in the order the messages came: runs of record changes are
 * folded per key and written with one statement per table and shape; subscription changes are applied where
 * they stand. Every key is checked against its watermark (the newest sequence applied), locked first, so two
 * workers (during a rebalance) never interleave on one key and a redelivered older change is ignored.
 *
 * `routes` are the messages' keys. The relay sends a change that names a record by another key (an IngestExt
 * by @email after an Ingest by @id) under the route of the record's live change: when a route brings a second
 * key, the run is cut there, so the first key's changes are written before the second's.
 */
export async function applyBatch(
  client: PoolClient,
  tables: ReadonlyMap<string, CloudTable>,
  changes: StagedChange[],
  routes?: readonly (string | undefined)[],
): Promise<ApplyOutcome> {
  const outcome: ApplyOutcome = { applied: [], stale: 0 };
  let run: RecordChange[] = [];
  let runKeyTexts: string[] = [];
  const keyOfRoute = new Map<string, string>();
  const flush = async () => {
    if (run.length > 0) await applyRecords(client, tables, run, runKeyTexts, outcome);
    run = [];
    runKeyTexts = [];
    keyOfRoute.clear();
  };
  try {
    for (let i = 0; i < changes.length; i++) {
      const change = changes[i]!;
      const route = routes?.[i];
      if (change.kind === 'record') {
        const keyText = keyTextOf(change.keyColumns, change.record);
        if (route !== undefined) {
          const key = watermarkId(change.source, keyText);
          const known = keyOfRoute.get(route);
          if (known !== undefined && known !== key) await flush();
          keyOfRoute.set(route, key);
        }
        run.push(change);
        runKeyTexts.push(keyText);
      } else {
        await flush();
        await applySubscription(client, tables, change, outcome);
      }
    }
    await flush();
  } catch (err) {
    throw classify(err);
  }
  return outcome;
}

/**
 * A database error caused by the data (SQLSTATE 22 data exception, 23 integrity violation, 42 rules) makes
 * the change a poison message; anything else (connection lost, deadlock, timeout, a table the cloud DB does
 * not have yet) is retried.
 */
export function classify(err: unknown): unknown {
  if (isAppError(err)) return err;
  const verdict = classifyPgError(err);
  // An undefined table or column (42P01, 42703) is a deployment still migrating: retried, not dead-lettered.
  if (verdict.sqlState === '42P01' || verdict.sqlState === '42703') return err;
  if (verdict.requestCaused) {
    return appErrorWithText(ErrorCatalogue.DATABASE_REFUSED, `PostgreSQL error: ${(err as Error).message}`, { cause: err });
  }
  return err;
}

/**
 * Creates or locks each key's watermark row and moves it to the newest sequence this batch brings, in one
 * statement, returning the sequence it had before (-1 for a key never seen): changes at or below that one
 * were applied already. Rows are taken in a fixed order so concurrent workers cannot deadlock. If the batch
 * fails, its transaction rolls the watermarks back with everything else.
 */
async function advanceWatermarks(client: PoolClient, entries: { source: string; keyText: string; seq: bigint }[]): Promise<Map<string, bigint>> {
  const sorted = entries.map((e) => ({ ...e, order: watermarkId(e.source, e.keyText) })).sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
  const { rows } = await client.query<{ schema_name: string; record_key: string; prev: string }>(
    `INSERT INTO cap_sync_watermark AS w (schema_name, record_key, seq, prev_seq)
     SELECT x.s, x.k, x.seq, -1 FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS x(s, k, seq, n) ORDER BY x.n
     ON CONFLICT (schema_name, record_key) DO UPDATE SET prev_seq = w.seq, seq = GREATEST(w.seq, EXCLUDED.seq),
       applied_at = CASE WHEN EXCLUDED.seq > w.seq THEN now() ELSE w.applied_at END
     RETURNING w.schema_name, w.record_key, w.prev_seq::text AS prev`,
    [sorted.map((e) => e.source), sorted.map((e) => e.keyText), sorted.map((e) => e.seq.toString())],
  );
  return new Map(rows.map((r) => [watermarkId(r.schema_name, r.record_key), BigInt(r.prev)]));
}

async function applyRecords(
  client: PoolClient,
  tables: ReadonlyMap<string, CloudTable>,
  changes: RecordChange[],
  keyTexts: string[],
  outcome: ApplyOutcome,
): Promise<void> {
  const newest = new Map<string, { source: string; keyText: string; seq: bigint }>();
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i]!;
    const keyText = keyTexts[i]!;
    const id = watermarkId(c.source, keyText);
    const seq = BigInt(c.seq);
    const known = newest.get(id);
    if (!known || seq > known.seq) newest.set(id, { source: c.source, keyText, seq });
  }
  const watermarks = await advanceWatermarks(client, [...newest.values()]);
  const { folded, stale } = foldChanges(changes, watermarks, keyTexts);
  outcome.stale += stale;

  const bySchema = group(folded, (f) => f.schema);
  for (const [schema, list] of bySchema) {
    const table = tables.get(schema);
    if (!table) throw poison(ErrorCatalogue.UNKNOWN_SCHEMA, `schema ${schema} has no table in the cloud database`);
    // Deletes first (a replace deletes, then inserts the later version), grouped by key shape.
    const deletes = group(
      list.filter((f) => f.op !== 'upsert'),
      (f) => f.keyColumns.join(','),
    );
    for (const g of deletes.values()) await client.query(...sql(deleteStatement(table, g[0]!.keyColumns, g)));
    const upserts = group(
      list.filter((f) => f.op !== 'delete'),
      (f) => `${f.keyColumns.join(',')}|${[...f.fields].sort().join(',')}`,
    );
    for (const g of upserts.values()) await client.query(...sql(upsertStatement(table, g[0]!.keyColumns, [...g[0]!.fields].sort(), g)));
    for (const op of ['upsert', 'delete', 'replace'] as const) {
      const count = list.filter((f) => f.op === op).length;
      if (count) outcome.applied.push({ schema, op, count });
    }
  }
}

/**
 * Subscribe / Unsubscribe in the cloud DB: find the recipient by its key (create it when asked), update the
 * given fields, then add or remove the subscriptions, or set the denylist flag (Unsubscribe without service).
 */
async function applySubscription(
  client: PoolClient,
  tables: ReadonlyMap<string, CloudTable>,
  change: SubscriptionChange,
  outcome: ApplyOutcome,
): Promise<void> {
  const recipients = tables.get('nms:recipient');
  const subscriptions = tables.get('nms:subscription');
  const services = tables.get('nms:service');
  if (!recipients || !subscriptions || !services)
    throw poison(ErrorCatalogue.UNKNOWN_SCHEMA, 'the cloud database has no nms:recipient / nms:subscription / nms:service tables');
  const { keyColumns, fields, record } = change.recipient;
  const keyText = keyTextOf(keyColumns, record);
  const watermarks = await advanceWatermarks(client, [{ source: change.source, keyText, seq: BigInt(change.seq) }]);
  if (BigInt(change.seq) <= (watermarks.get(watermarkId(change.source, keyText)) ?? -1n)) {
    outcome.stale++;
    return;
  }
  const folded: FoldedChange = {
    schema: 'nms:recipient',
    source: change.source,
    keyColumns,
    keyText,
    seq: BigInt(change.seq),
    op: 'upsert',
    fields,
    record,
    recordedAt: change.recordedAt,
  };
  const idColumn = recipients.primaryKey!.column;
  const keyWhere = keyColumns.map((c, i) => `${q(c)} = $${i + 1}::${recipients.casts.get(c) ?? 'text'}`).join(' AND ');
  const keyParams = keyColumns.map((c) => textOf(record[c]));
  let ids = (await client.query<{ id: string }>(`SELECT ${q(idColumn)}::text AS id FROM ${q(recipients.table)} WHERE ${keyWhere}`, keyParams)).rows.map(
    (r) => r.id,
  );
  if (ids.length === 0 && change.create) {
    const { sql: upsertSql, params } = upsertStatement(recipients, keyColumns, fields, [folded]);
    await client.query(upsertSql, params);
    ids = (await client.query<{ id: string }>(`SELECT ${q(idColumn)}::text AS id FROM ${q(recipients.table)} WHERE ${keyWhere}`, keyParams)).rows.map(
      (r) => r.id,
    );
  } else if (ids.length > 0 && fields.some((f) => !keyColumns.includes(f))) {
    const { sql: upsertSql, params } = upsertStatement(recipients, keyColumns, fields, [folded]);
    await client.query(upsertSql, params);
  }
  if (ids.length > 0) {
    const recipientCol = subscriptions.columnOf('@recipient-id')!;
    const serviceCol = subscriptions.columnOf('@service-id')!;
    const serviceIds = change.services.length
      ? (
          await client.query<{ id: string; name: string }>(
            `SELECT ${q(services.primaryKey!.column)}::text AS id, name FROM ${q(services.table)} WHERE name = ANY($1::text[])`,
            [change.services],
          )
        ).rows
      : [];
    const missing = change.services.filter((s) => !serviceIds.some((r) => r.name === s));
    if (missing.length > 0)
      throw poison(
        ErrorCatalogue.LINK_NOT_FOUND,
        `${change.action}: service ${missing.join(', ')} is not in the cloud database (not replicated yet, or deleted)`,
      );
    const serviceCast = subscriptions.casts.get(serviceCol) ?? 'bigint';
    if (change.action === 'subscribe') {
      const created = subscriptions.columnOf('@created');
      const modified = subscriptions.columnOf('@lastModified');
      const extraCols = [created, modified].filter((c): c is string => c !== undefined);
      await client.query(
        `INSERT INTO ${q(subscriptions.table)} (${q(subscriptions.primaryKey!.column)}, ${q(recipientCol)}, ${q(serviceCol)}${extraCols.map((c) => `, ${q(c)}`).join('')})
         SELECT gen_random_uuid()::text, r, s::${serviceCast}${extraCols.map(() => ', now()').join('')} FROM unnest($1::text[]) AS r CROSS JOIN unnest($2::text[]) AS s
         ON CONFLICT (${q(recipientCol)}, ${q(serviceCol)}) DO NOTHING`,
        [ids, serviceIds.map((s) => s.id)],
      );
    } else if (change.services.length > 0) {
      await client.query(`DELETE FROM ${q(subscriptions.table)} WHERE ${q(recipientCol)} = ANY($1::text[]) AND ${q(serviceCol)} = ANY($2::${serviceCast}[])`, [
        ids,
        serviceIds.map((s) => s.id),
      ]);
    } else {
      const blackList = recipients.columnOf('@blackList');
      if (blackList) await client.query(`UPDATE ${q(recipients.table)} SET ${q(blackList)} = true WHERE ${q(idColumn)} = ANY($1::text[])`, [ids]);
    }
  }
  outcome.applied.push({ schema: 'nms:subscription', op: change.action, count: 1 });
}

function group<T>(items: T[], keyOf: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = keyOf(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

function sql(s: { sql: string; params: unknown[] }): [string, unknown[]] {
  return [s.sql, s.params];
}
