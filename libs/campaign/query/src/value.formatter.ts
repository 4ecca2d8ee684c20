import type { XtkType } from '@cap/campaign-schema';

/** Turns one database value into Campaign's attribute text; undefined for NULL (the attribute is omitted). */
export type ValueFormatter = (value: unknown) => string | undefined;

function p2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

function p3(n: number): string {
  return n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`;
}

function p4(n: number): string {
  return n >= 1000 ? `${n}` : `${n}`.padStart(4, '0');
}

/** `2022-09-26 03:13:36.480Z`: Campaign's datetime text, always UTC with milliseconds. */
export function formatDateTime(d: Date): string {
  return `${p4(d.getUTCFullYear())}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.${p3(d.getUTCMilliseconds())}Z`;
}

// PostgreSQL's text form of timestamptz (`2022-09-26 03:13:36.48+00`) and ISO-8601.
const PG_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

function parseTimestamp(s: string): Date | undefined {
  const m = PG_TIMESTAMP.exec(s);
  if (!m) return undefined;
  const ms = m[7] ? Math.round(Number(m[7]) * 1000) : 0;
  let t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms);
  const zone = m[8];
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0')) * 60_000;
  }
  return new Date(t);
}

const asText: ValueFormatter = (v) =>
  v === null || v === undefined ? undefined : typeof v === 'string' ? v : v instanceof Date ? formatDateTime(v) : String(v);

const asBoolean: ValueFormatter = (v) => {
  if (v === null || v === undefined) return undefined;
  return v === true || v === 1 || v === 't' || v === 'true' || v === '1' || v === 'TRUE' ? 'true' : 'false';
};

/** Integers: PostgreSQL gives int2/int4 as numbers and int8/numeric as exact strings: both pass through. */
const asInteger: ValueFormatter = (v) => (v === null || v === undefined ? undefined : typeof v === 'string' ? v : String(v));

/** Doubles and averages: `2.5000000000000000` (numeric text) becomes `2.5`. */
const asDouble: ValueFormatter = (v) => {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'number') return String(v);
  const n = Number(v);
  return Number.isFinite(n) ? String(n) : String(v);
};

const asDateTime: ValueFormatter = (v) => {
  if (v === null || v === undefined) return undefined;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : formatDateTime(v);
  if (typeof v === 'number') return formatDateTime(new Date(v));
  const s = String(v);
  const d = parseTimestamp(s);
  return d ? formatDateTime(d) : s;
};

/**
 * Dates: `YYYY-MM-DD`. node-postgres turns a `date` into a JS Date at LOCAL midnight, so the local calendar
 * fields are the stored date; strings keep their first ten characters.
 */
const asDate: ValueFormatter = (v) => {
  if (v === null || v === undefined) return undefined;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : `${p4(v.getFullYear())}-${p2(v.getMonth() + 1)}-${p2(v.getDate())}`;
  const s = String(v);
  return /^\d{4}-\d{2}-\d{2}/.test(s) ? s.slice(0, 10) : s;
};

const FORMATTERS: Record<XtkType, ValueFormatter> = {
  string: asText,
  memo: asText,
  uuid: asText,
  boolean: asBoolean,
  byte: asInteger,
  short: asInteger,
  long: asInteger,
  int64: asInteger,
  double: asDouble,
  datetime: asDateTime,
  date: asDate,
};

export function getValueFormatter(type: XtkType): ValueFormatter {
  return FORMATTERS[type];
}
