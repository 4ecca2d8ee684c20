import type { Enumeration, Field } from '@cap/campaign-schema';
import { ErrorCatalogue } from '@cap/platform-errors';
import { WriteError } from './write.errors';

/** A value ready to bind: strings for text, int64 (as digits) and dates; numbers; booleans; Date; null. */
export type SqlValue = string | number | boolean | Date | null;

const INT_RANGES: Record<string, [number, number]> = {
  byte: [-128, 255],
  short: [-32_768, 32_767],
  long: [-2_147_483_648, 2_147_483_647],
};

const CAMPAIGN_DATETIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Converts the text of an attribute (what every SOAP client sends) to the value bound for the field's
 * column; throws a WriteError naming the schema, the field and the bad value.
 */
export function convertValue(schemaId: string, field: Field, raw: string, enumeration?: Enumeration): SqlValue {
  const bad = (why: string): never => {
    throw new WriteError(
      ErrorCatalogue.BAD_VALUE,
      `Invalid value '${raw.length > 80 ? `${raw.slice(0, 80)}…` : raw}' for ${field.xpath} of ${schemaId}: ${why}`,
      { schema: schemaId, xpath: field.xpath },
    );
  };
  if (raw === '' && field.type !== 'string' && field.type !== 'memo') return null;
  let text = raw;
  if (enumeration) {
    const byName = enumeration.values.find((v) => v.name === raw);
    if (byName) text = byName.value;
  }
  switch (field.type) {
    case 'string':
    case 'memo':
      if (field.length !== undefined && [...text].length > field.length) {
        throw new WriteError(ErrorCatalogue.VALUE_TOO_LONG, `Value of ${field.xpath} of ${schemaId} is longer than ${field.length} characters`, {
          schema: schemaId,
          xpath: field.xpath,
        });
      }
      return text;
    case 'uuid':
      if (text.length > 64) bad('an id is at most 64 characters');
      return text;
    case 'byte':
    case 'short':
    case 'long': {
      if (!/^-?\d+$/.test(text)) bad('expected an integer');
      const n = Number(text);
      const [min, max] = INT_RANGES[field.type]!;
      if (n < min || n > max) bad(`expected an integer between ${min} and ${max}`);
      return n;
    }
    case 'int64': {
      if (!/^-?\d{1,19}$/.test(text)) bad('expected a 64-bit integer');
      const n = BigInt(text);
      if (n > 9_223_372_036_854_775_807n || n < -9_223_372_036_854_775_808n) bad('out of the 64-bit range');
      return text;
    }
    case 'double': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) bad('expected a number');
      return n;
    }
    case 'boolean':
      if (text === 'true' || text === '1') return true;
      if (text === 'false' || text === '0') return false;
      return bad('expected true or false');
    case 'datetime':
      return parseDateTime(text) ?? bad('expected a date and time such as 2024-01-31T10:00:00Z');
    case 'date': {
      const d = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text) ? new Date(`${text}T00:00:00Z`) : parseDateTime(text);
      if (!d || Number.isNaN(d.getTime())) return bad('expected a date such as 2024-01-31');
      return d.toISOString().slice(0, 10);
    }
  }
}

function parseDateTime(text: string): Date | undefined {
  const m = CAMPAIGN_DATETIME.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s = '00', frac = '0', zone = 'Z'] = m;
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}.${frac.padEnd(3, '0').slice(0, 3)}${zone === 'Z' ? 'Z' : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone}`;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
