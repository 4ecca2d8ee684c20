import { MAX_IDENTIFIER_LENGTH } from '@cap/campaign-schema';

// Identifiers and literals are quoted by quoteIdent and quoteLiteral of @cap/campaign-schema
// (libs/campaign/schema/src/sql.identifier.ts).

/**
 * The name of an index or constraint: `<table>_<parts>_<suffix>`, shortened to PostgreSQL's 63 characters
 * with a hash of the full name so that two long names never collide once truncated.
 */
export function objectName(table: string, parts: string[], suffix: string): string {
  const full = [table, ...parts, suffix].join('_');
  if (full.length <= MAX_IDENTIFIER_LENGTH) return full;
  const hash = fnv1a(full).toString(16).padStart(8, '0');
  return `${full.slice(0, MAX_IDENTIFIER_LENGTH - hash.length - suffix.length - 2)}_${hash}_${suffix}`;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
