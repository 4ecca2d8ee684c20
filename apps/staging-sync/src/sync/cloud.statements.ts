import { isSqlIdentifier, quoteIdent } from '@cap/campaign-schema';
import { appErrorWithText, ErrorCatalogue, type AppError, type CatalogueEntry } from '@cap/platform-errors';
import type { CloudTable } from './cloud.tables';
import { textOf, type FoldedChange } from './change.fold';

export interface Statement {
  sql: string;
  params: unknown[];
}

/**
 * A cloud table or column name, quoted (quoteIdent). Names can come from a change (its key columns): one that no cloud
 * table can have (cloud names are lower case) makes the change poison, dead-lettered rather than retried.
 */
export function cloudIdent(name: string): string {
  if (!isSqlIdentifier(name) || name !== name.toLowerCase())
    throw poison(ErrorCatalogue.INVALID_REQUEST, `refusing column name ${JSON.stringify(name.slice(0, 80))}`);
  return quoteIdent(name);
}
const ident = cloudIdent;

/**
 * A change the cloud DB can never take (unknown column…): dead-lettered, never retried. Its entry gives the code
 * the quarantine records; the message is the reason it keeps.
 */
export function poison(entry: CatalogueEntry, message: string): AppError {
  return appErrorWithText(entry, message);
}

function castFor(table: CloudTable, column: string): string {
  const cast = table.casts.get(column);
  if (!cast) throw poison(ErrorCatalogue.UNKNOWN_FIELD, `column '${column}' is not in cloud table ${table.table} (${table.schema})`);
  return cast;
}

/**
 * One statement for all the deletes of one key shape: `DELETE … USING unnest(…)`.
 */
export function deleteStatement(table: CloudTable, keyColumns: string[], changes: FoldedChange[]): Statement {
  const params = keyColumns.map((c) => changes.map((ch) => textOf(ch.record[c])));
  const cols = keyColumns.map(ident);
  const where = keyColumns.map((c, i) => `t.${cols[i]} = s.${cols[i]}::${castFor(table, c)}`).join(' AND ');
  return {
    sql: `DELETE FROM ${ident(table.table)} t USING unnest(${cols.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS s(${cols.join(', ')}) WHERE ${where}`,
    params,
  };
}

/**
 * One statement for all the upserts of one shape (same key columns, same fields): the rows are passed as
 * text arrays, cast per column; matching rows are updated (insert-only columns left alone) and the others
 * inserted, with a new UUID when the key is not the primary key. Keyed by the primary key, it is an
 * `INSERT … ON CONFLICT (pk) DO UPDATE`; by other columns (which need not be unique), update then insert.
 */
export function upsertStatement(table: CloudTable, keyColumns: string[], fields: string[], changes: FoldedChange[]): Statement {
  const dataColumns = [...new Set([...keyColumns, ...fields])];
  for (const c of dataColumns) castFor(table, c);
  const params: unknown[] = dataColumns.map((c) => changes.map((ch) => textOf(ch.record[c])));
  const all = [...dataColumns];
  if (table.hasSeq) {
    all.push('cap_seq');
    params.push(changes.map((ch) => ch.seq.toString()));
  }
  const q = all.map(ident);
  const cast = (c: string, alias = 's') => `${alias}.${ident(c)}::${c === 'cap_seq' ? 'bigint' : castFor(table, c)}`;
  const byPrimaryKey = table.primaryKey !== undefined && keyColumns.length === 1 && keyColumns[0] === table.primaryKey.column;
  if (byPrimaryKey && new Set(changes.map((ch) => ch.keyText)).size === changes.length) {
    // Keyed by the primary key, each key once: one insert that updates on conflict (one index probe per row,
    // where update-then-insert probes twice). Same columns kept on update: never the key, never insert-only ones.
    const updates = all.filter((c) => !keyColumns.includes(c) && !table.insertOnly.has(c)).map((c) => `${ident(c)} = EXCLUDED.${ident(c)}`);
    return {
      sql:
        `INSERT INTO ${ident(table.table)} (${q.join(', ')}) SELECT ${all.map((c) => cast(c)).join(', ')} ` +
        `FROM unnest(${all.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS s(${q.join(', ')}) ` +
        `ON CONFLICT (${ident(table.primaryKey!.column)}) DO ${updates.length ? `UPDATE SET ${updates.join(', ')}` : 'NOTHING'}`,
      params,
    };
  }
  const match = keyColumns.map((c) => `t.${ident(c)} = ${cast(c)}`).join(' AND ');
  const sets = all.filter((c) => !keyColumns.includes(c) && !table.insertOnly.has(c)).map((c) => `${ident(c)} = ${cast(c)}`);
  const source = `s AS (SELECT * FROM unnest(${all.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS s(${q.join(', ')}))`;
  const matched = sets.length
    ? `u AS (UPDATE ${ident(table.table)} t SET ${sets.join(', ')} FROM s WHERE ${match} RETURNING ${keyColumns.map((c) => `s.${ident(c)}`).join(', ')})`
    : `u AS (SELECT ${keyColumns.map((c) => `s.${ident(c)}`).join(', ')} FROM s JOIN ${ident(table.table)} t ON ${match})`;
  const insertCols = [...all];
  const insertExprs = all.map((c) => cast(c));
  if (table.primaryKey && !all.includes(table.primaryKey.column)) {
    if (!table.primaryKey.uuid) throw poison(ErrorCatalogue.NO_KEY, `${table.schema}: a new row needs its primary key ${table.primaryKey.column}`);
    insertCols.push(table.primaryKey.column);
    insertExprs.push('gen_random_uuid()::text');
  }
  const notMatched = keyColumns.map((c) => `u.${ident(c)} IS NOT DISTINCT FROM s.${ident(c)}`).join(' AND ');
  return {
    sql:
      `WITH ${source}, ${matched} ` +
      `INSERT INTO ${ident(table.table)} (${insertCols.map(ident).join(', ')}) SELECT ${insertExprs.join(', ')} FROM s WHERE NOT EXISTS (SELECT 1 FROM u WHERE ${notMatched})`,
    params,
  };
}
