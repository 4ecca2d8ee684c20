import type { Schema } from '@cap/campaign-schema';
import { buildDesiredTables, renderSqlType, type SqlType } from '@cap/campaign-ddl';

/** What the sync needs to know of a cloud table to write it. */
export interface CloudTable {
  schema: string;
  table: string;
  /** Column → type to cast text values to (varchar is cast to text, so an over-long value fails, never truncates). */
  casts: ReadonlyMap<string, string>;
  primaryKey?: { column: string; uuid: boolean };
  /** Columns written on insert only (created, createdBy-id): an update never rewrites them. */
  insertOnly: ReadonlySet<string>;
  /** The cloud copy of a staged schema keeps the staging sequence of its last change. */
  hasSeq: boolean;
  /** Column of a field, by xpath (@blackList → black_list). */
  columnOf(xpath: string): string | undefined;
}

const castOf = (type: SqlType) => (type.base === 'varchar' ? 'text' : renderSqlType(type));

/** The cloud tables of the schemas, from the same DDL model cloud-executor migrates them with. */
export function cloudTables(schemas: ReadonlyMap<string, Schema>): Map<string, CloudTable> {
  const problems: string[] = [];
  const tables = buildDesiredTables(schemas, 'cloud', problems);
  if (problems.length > 0) throw new Error(`cloud tables cannot be described:\n${problems.join('\n')}`);
  const out = new Map<string, CloudTable>();
  for (const t of tables) {
    const pk = t.schema.primaryKey;
    out.set(t.schema.id, {
      schema: t.schema.id,
      table: t.name,
      casts: new Map(t.columns.map((c) => [c.name, castOf(c.type)])),
      ...(pk ? { primaryKey: { column: pk.column, uuid: pk.kind === 'uuid' } } : {}),
      insertOnly: new Set(t.schema.fields.filter((f) => f.xpath === '@created' || f.xpath === '@createdBy-id').map((f) => f.column)),
      hasSeq: t.columns.some((c) => c.name === 'cap_seq'),
      columnOf: (xpath) => t.schema.fields.find((f) => f.xpath === xpath)?.column,
    });
  }
  return out;
}
