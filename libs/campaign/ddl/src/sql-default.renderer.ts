import { counterDefault, quoteLiteral, type Enumeration, type Field } from '@cap/campaign-schema';

export type RenderedDefault = { sql: string } | { problem: string };

const INTEGER_RANGES: Partial<Record<Field['type'], [bigint, bigint]>> = {
  byte: [-32_768n, 32_767n], // stored as smallint
  short: [-32_768n, 32_767n],
  long: [-2_147_483_648n, 2_147_483_647n],
  int64: [-9_223_372_036_854_775_808n, 9_223_372_036_854_775_807n],
};

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NOW = new Set(['now()', 'GetDate()', 'now']);

/**
 * The SQL of a field's `default`, typed and validated: numbers are checked to be numbers in range, booleans
 * true/false/1/0, dates ISO or `GetDate()`; strings become escaped literals no longer than the column. An
 * enumerated field may name the value (`default="male"`) instead of giving it. The schema text never reaches
 * the SQL unchecked.
 */
export function renderDefault(
  field: Pick<Field, 'type' | 'length' | 'default' | 'enumId'>,
  enumerations: ReadonlyMap<string, Enumeration>,
): RenderedDefault | undefined {
  if (field.default === undefined) return undefined;
  const raw = field.default;
  const enumeration = field.enumId === undefined ? undefined : enumerations.get(field.enumId);
  const value = enumeration?.values.find((v) => v.name === raw)?.value ?? raw;
  const bad = (expected: string): RenderedDefault => ({ problem: `default '${raw}' is not ${expected}` });

  switch (field.type) {
    case 'string':
    case 'memo':
      // `'DM'+CounterValue('DeliveryId')` is filled by NewInstance from a counter; as a column default it would be
      // stored as that very text.
      if (counterDefault(raw)) return undefined;
      if (value.includes('\u0000')) return bad('a storable string (it contains NUL)');
      if (field.length !== undefined && [...value].length > field.length) return bad(`at most ${field.length} characters long`);
      return { sql: quoteLiteral(value) };
    case 'uuid':
      return UUID.test(value) ? { sql: quoteLiteral(value) } : bad('a UUID');
    case 'byte':
    case 'short':
    case 'long':
    case 'int64': {
      const [min, max] = INTEGER_RANGES[field.type]!;
      if (!/^-?\d{1,19}$/.test(value)) return bad(`an integer (${field.type})`);
      const n = BigInt(value);
      if (n < min || n > max) return bad(`within the range of ${field.type} (${min} to ${max})`);
      return { sql: n.toString() };
    }
    case 'double': {
      if (!/^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(value) || !Number.isFinite(Number(value))) return bad('a finite number');
      return { sql: String(Number(value)) };
    }
    case 'boolean':
      if (value === 'true' || value === '1') return { sql: 'true' };
      if (value === 'false' || value === '0') return { sql: 'false' };
      return bad('true, false, 1 or 0');
    case 'datetime':
      if (NOW.has(value)) return { sql: 'now()' };
      if (ISO_DATETIME.test(value) && !Number.isNaN(Date.parse(value))) return { sql: `${quoteLiteral(value)}::timestamptz` };
      return bad('an ISO date-time or GetDate()');
    case 'date':
      if (NOW.has(value)) return { sql: 'CURRENT_DATE' };
      if (ISO_DATE.test(value) && !Number.isNaN(Date.parse(value))) return { sql: `${quoteLiteral(value)}::date` };
      return bad('an ISO date (YYYY-MM-DD) or GetDate()');
  }
}
