import { type Database, quoteIdent, quoteLiteral, type Schema } from '@cap/campaign-schema';
import { ErrorCatalogue } from '@cap/platform-errors';
import { DdlError } from './ddl.errors';
import { TABLE_MARKER_PREFIX, type DdlPlan, type DdlStatement, type ExistingColumn, type ExistingTable } from './ddl.model';
import { isSafeWidening, parsePgType, renderSqlType, sameSqlType } from './sql-type.mapper';
import { buildDesiredTables, type DesiredColumn, type DesiredIndex, type DesiredTable } from './table.builder';

/**
 * Plans the DDL that brings one database (`local` or `cloud`) in line with the compiled schemas, given what
 * introspection found there. Only tables created for a schema (marked `cap:schema=<id>`) are compared; other
 * tables (cap_outbox, migrations) are never touched.
 *
 * Additive changes are planned: missing tables, columns, indexes and checks, and safe widenings (varchar(n)
 * → varchar(m > n) or text, smallint → integer → bigint). Anything that could lose data (a narrowed or
 * changed type, a column or table the schemas no longer have, a table of the same name the DDL does not
 * own) is refused with a DdlError (DDL_DESTRUCTIVE_CHANGE) listing every such change; nothing is dropped, ever.
 */
export function planDatabase(schemas: ReadonlyMap<string, Schema>, database: Database, existing: readonly ExistingTable[]): DdlPlan {
  const problems: string[] = [];
  const desired = buildDesiredTables(schemas, database, problems);
  if (problems.length > 0) throw new DdlError(ErrorCatalogue.DDL_INVALID_SCHEMA, problems);

  const found = new Map(existing.map((t) => [t.name, t]));
  const statements: DdlStatement[] = [];
  const notices: string[] = [];
  const refusals: string[] = [];
  const refuse = (table: string, what: string) => refusals.push(`Refusing destructive change on ${database}.${table}: ${what}`);

  for (const table of desired) {
    const current = found.get(table.name);
    if (!current) {
      statements.push(...createTable(table));
      continue;
    }
    if (current.managedFor === undefined) {
      refuse(table.name, `table ${table.name} exists in the database but was not created for a schema; ${describe(table.schema)} would take it over`);
      continue;
    }
    statements.push(...alterTable(table, current, refuse, notices));
  }

  const wanted = new Set(desired.map((t) => t.name));
  for (const t of existing) {
    if (t.managedFor !== undefined && !wanted.has(t.name)) {
      refuse(
        t.name,
        `table ${t.name} (schema ${t.managedFor}) exists in the database but no schema places it in the ${database} database any more; drop it by hand if that is intended`,
      );
    }
  }
  if (refusals.length > 0) throw new DdlError(ErrorCatalogue.DDL_DESTRUCTIVE_CHANGE, refusals);
  return { database, statements, notices, summary: summarize(database, desired.length, statements, notices) };
}

function describe(schema: Schema): string {
  return `the schema ${schema.id} (${schema.sources.join(', ')})`;
}

function createTable(table: DesiredTable): DdlStatement[] {
  const lines = table.columns.map((c) => `  ${columnDefinition(c)}`);
  const out: DdlStatement[] = [
    {
      action: 'create-table',
      table: table.name,
      sql: `CREATE TABLE ${quoteIdent(table.name)} (\n${lines.join(',\n')}\n)`,
      description: `create table ${table.name} for ${table.schema.id} (${table.columns.length} columns)`,
    },
    markTable(table),
  ];
  for (const index of table.indexes) out.push(createIndex(table.name, index));
  return out;
}

function markTable(table: DesiredTable): DdlStatement {
  return {
    action: 'mark-table',
    table: table.name,
    sql: `COMMENT ON TABLE ${quoteIdent(table.name)} IS ${quoteLiteral(`${TABLE_MARKER_PREFIX}${table.schema.id}`)}`,
    description: `mark table ${table.name} as created for ${table.schema.id}`,
  };
}

function columnDefinition(c: DesiredColumn): string {
  const parts = [quoteIdent(c.name), renderSqlType(c.type)];
  if (c.identity) parts.push(`GENERATED ${c.identity} AS IDENTITY`);
  if (c.primaryKey) parts.push('PRIMARY KEY');
  else if (c.notNull) parts.push('NOT NULL');
  if (c.default !== undefined) parts.push(`DEFAULT ${c.default}`);
  if (c.check) parts.push(`CONSTRAINT ${quoteIdent(c.check.name)} CHECK (${c.check.sql})`);
  return parts.join(' ');
}

function createIndex(table: string, index: DesiredIndex): DdlStatement {
  const where = index.where ? ` WHERE ${index.where}` : '';
  return {
    action: 'create-index',
    table,
    sql: `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX ${quoteIdent(index.name)} ON ${quoteIdent(table)} (${index.columns.map(quoteIdent).join(', ')})${where}`,
    description: `create ${index.unique ? 'unique ' : ''}index ${index.name} on ${table} (${index.columns.join(', ')})${index.where ? ' (partial)' : ''}`,
  };
}

function alterTable(table: DesiredTable, current: ExistingTable, refuse: (table: string, what: string) => void, notices: string[]): DdlStatement[] {
  const out: DdlStatement[] = [];
  const name = table.name;
  const q = quoteIdent(name);
  if (current.managedFor !== table.schema.id) out.push(markTable(table));
  const columns = new Map(current.columns.map((c) => [c.name, c]));
  const where = (c: DesiredColumn) => (c.field ? `${table.schema.id} (${c.field.source.file})` : `${table.schema.id} (${table.schema.sources.join(', ')})`);

  for (const c of table.columns) {
    const existing = columns.get(c.name);
    if (!existing) {
      out.push(addColumn(table, c, notices));
      continue;
    }
    out.push(...alterColumn(table, c, existing, where(c), refuse, notices));
  }
  for (const c of current.columns) {
    if (!table.columns.some((d) => d.name === c.name)) {
      refuse(
        name,
        `column ${c.name} (${displayType(c.type)}) exists in the database but not in the schema ${table.schema.id} (${table.schema.sources.join(', ')}); drop it by hand if that is intended`,
      );
    }
  }
  const constraints = new Set(current.constraints);
  for (const c of table.columns) {
    if (c.check && columns.has(c.name) && !constraints.has(c.check.name)) {
      out.push({
        action: 'add-constraint',
        table: name,
        sql: `ALTER TABLE ${q} ADD CONSTRAINT ${quoteIdent(c.check.name)} CHECK (${c.check.sql})`,
        description: `add check ${c.check.name} on ${name}.${c.name}`,
      });
    }
  }
  const indexes = new Set(current.indexes);
  for (const index of table.indexes) if (!indexes.has(index.name)) out.push(createIndex(name, index));
  return out;
}

function addColumn(table: DesiredTable, c: DesiredColumn, notices: string[]): DdlStatement {
  let column = c;
  if (c.notNull && !c.primaryKey && c.default === undefined && c.identity === undefined) {
    // Existing rows have no value to give it: added nullable, the application enforces the rule.
    column = { ...c, notNull: false };
    notices.push(`${table.name}.${c.name} is NOT NULL in the schema ${table.schema.id} but was added nullable: existing rows have no value for it`);
  }
  return {
    action: 'add-column',
    table: table.name,
    sql: `ALTER TABLE ${quoteIdent(table.name)} ADD COLUMN ${columnDefinition(column)}`,
    description: `add column ${table.name}.${c.name} ${renderSqlType(c.type)}`,
  };
}

function alterColumn(
  table: DesiredTable,
  c: DesiredColumn,
  existing: ExistingColumn,
  where: string,
  refuse: (table: string, what: string) => void,
  notices: string[],
): DdlStatement[] {
  const out: DdlStatement[] = [];
  const q = quoteIdent(table.name);
  const type = parsePgType(existing.type);
  if (!type || !sameSqlType(type, c.type)) {
    if (type && isSafeWidening(type, c.type)) {
      out.push({
        action: 'widen-column',
        table: table.name,
        sql: `ALTER TABLE ${q} ALTER COLUMN ${quoteIdent(c.name)} TYPE ${renderSqlType(c.type)}`,
        description: `widen column ${table.name}.${c.name} from ${renderSqlType(type)} to ${renderSqlType(c.type)}`,
      });
    } else {
      refuse(table.name, `column ${c.name} is ${displayType(existing.type)} in the database but ${renderSqlType(c.type)} in the schema ${where}`);
      return out;
    }
  }
  if (!c.notNull && !existing.nullable) {
    out.push({
      action: 'drop-not-null',
      table: table.name,
      sql: `ALTER TABLE ${q} ALTER COLUMN ${quoteIdent(c.name)} DROP NOT NULL`,
      description: `allow nulls in ${table.name}.${c.name}`,
    });
  } else if (c.notNull && existing.nullable) {
    notices.push(`${table.name}.${c.name} is NOT NULL in the schema ${where} but nullable in the database: not enforced on existing rows`);
  }
  return out;
}

function displayType(printed: string): string {
  const parsed = parsePgType(printed);
  return parsed ? renderSqlType(parsed) : printed;
}

function summarize(database: Database, tableCount: number, statements: DdlStatement[], notices: string[]): string {
  const lines: string[] = [];
  if (statements.length === 0) lines.push(`${database} database: up to date (${tableCount} schema tables)`);
  else {
    const counts = new Map<string, number>();
    for (const s of statements) counts.set(s.action, (counts.get(s.action) ?? 0) + 1);
    const tally = [...counts].map(([action, n]) => `${n} ${action}`).join(', ');
    lines.push(`${database} database: ${statements.length} statements (${tally})`);
    for (const s of statements) if (s.action !== 'mark-table') lines.push(`  ${s.description}`);
  }
  for (const n of notices) lines.push(`  notice: ${n}`);
  return lines.join('\n');
}
