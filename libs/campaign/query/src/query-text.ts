import { quoteLiteral } from '@cap/campaign-schema';
import type { ResultShape } from './result-shape.model';

/** A bound value written as a PostgreSQL literal (strings quoted with `'` doubled, standard_conforming_strings on). */
function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'NULL';
  const text = value instanceof Date ? value.toISOString() : typeof value === 'string' ? value : JSON.stringify(value);
  return quoteLiteral(text);
}

/**
 * The statement with each `$n` placeholder replaced by its value as a literal: the SQL text BuildQueryEx returns,
 * which runs as it is (Campaign's `sqlSelect()` takes it with the format). Placeholders inside quoted strings or quoted identifiers are left alone.
 */
export function inlineSqlParams(sql: string, params: readonly unknown[]): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    if (ch === "'" || ch === '"') {
      // Copy the quoted run whole; a doubled quote is an escaped one.
      let j = i + 1;
      while (j < sql.length && !(sql[j] === ch && sql[j + 1] !== ch)) j += sql[j] === ch ? 2 : 1;
      out += sql.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const m = ch === '$' ? /^\$(\d+)/.exec(sql.slice(i, i + 8)) : null;
    if (m && Number(m[1]) >= 1 && Number(m[1]) <= params.length) {
      out += sqlLiteral(params[Number(m[1]) - 1]);
      i += m[0].length;
      continue;
    }
    out += ch;
    i += 1;
  }
  return out;
}

/**
 * BuildQueryEx's format string, in the form Campaign's `sqlSelect()` reads rows with: the row element name, then
 * one `<path>:<type>` per column in select order (`delivery,@id:int64,@label:string,location/@city:string`).
 */
export function queryFormat(shape: ResultShape): string {
  const columns = shape.columns.map((c) => `${[...c.path, c.isElement ? c.name : `@${c.name}`].join('/')}:${c.type}`);
  return [shape.rowName, ...columns].join(',');
}
