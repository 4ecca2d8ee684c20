import type { Field, XtkType } from '@cap/campaign-schema';

/** A PostgreSQL column type the schema DDL produces. */
export type SqlType =
  | { base: 'varchar'; length: number }
  | { base: 'text' | 'text[]' | 'smallint' | 'integer' | 'bigint' | 'boolean' | 'double precision' | 'timestamptz' | 'date' };

const FIXED: Record<Exclude<XtkType, 'string'>, SqlType> = {
  memo: { base: 'text' },
  long: { base: 'integer' },
  int64: { base: 'bigint' },
  short: { base: 'smallint' },
  byte: { base: 'smallint' },
  boolean: { base: 'boolean' },
  double: { base: 'double precision' },
  datetime: { base: 'timestamptz' },
  date: { base: 'date' },
  // UUID keys are strings end to end: what the SDK sends is what it reads back (see uuidCheck in table.builder).
  uuid: { base: 'text' },
};

/** The column type of a field: string → varchar(length) (text without a length), long → integer, … */
export function sqlTypeOf(field: Pick<Field, 'type' | 'length'>): SqlType {
  if (field.type === 'string') return field.length === undefined ? { base: 'text' } : { base: 'varchar', length: field.length };
  return FIXED[field.type];
}

/** How the DDL writes a type: `varchar(64)`, `timestamptz`. */
export function renderSqlType(type: SqlType): string {
  return type.base === 'varchar' ? `varchar(${type.length})` : type.base;
}

const PRINTED: Record<string, SqlType> = {
  text: { base: 'text' },
  'text[]': { base: 'text[]' },
  smallint: { base: 'smallint' },
  integer: { base: 'integer' },
  bigint: { base: 'bigint' },
  boolean: { base: 'boolean' },
  'double precision': { base: 'double precision' },
  'timestamp with time zone': { base: 'timestamptz' },
  date: { base: 'date' },
};

/**
 * Reads a type as PostgreSQL prints it (`format_type`: `character varying(64)`, `timestamp with time zone`);
 * undefined for a type the schema DDL never produces (jsonb, numeric, uuid, varchar without length…).
 */
export function parsePgType(printed: string): SqlType | undefined {
  const varchar = /^character varying\((\d+)\)$/.exec(printed);
  if (varchar) return { base: 'varchar', length: Number(varchar[1]) };
  return PRINTED[printed];
}

export function sameSqlType(a: SqlType, b: SqlType): boolean {
  return a.base === b.base && (a.base !== 'varchar' || a.length === (b as { length: number }).length);
}

const INTEGER_RANK: Partial<Record<SqlType['base'], number>> = { smallint: 1, integer: 2, bigint: 3 };

/**
 * True when every value of `from` fits `to` unchanged, so ALTER COLUMN TYPE loses nothing:
 * varchar(n) → varchar(m ≥ n) or text, smallint → integer → bigint.
 */
export function isSafeWidening(from: SqlType, to: SqlType): boolean {
  if (from.base === 'varchar') return to.base === 'text' || (to.base === 'varchar' && to.length >= from.length);
  const a = INTEGER_RANK[from.base];
  const b = INTEGER_RANK[to.base];
  return a !== undefined && b !== undefined && b >= a;
}
