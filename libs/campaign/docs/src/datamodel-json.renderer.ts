import type { Schema } from '@cap/campaign-schema';

/**
 * The compiled data model as JSON: schemas sorted by id, object keys sorted at every level, arrays in schema
 * order (field, key and parameter order carry meaning), no timestamps. The same schemas always give the
 * same bytes, so a diff of this file is a diff of the data model.
 */
export function renderDataModelJson(schemas: ReadonlyMap<string, Schema>): string {
  const sorted = [...schemas.values()].sort((a, b) => a.id.localeCompare(b.id));
  return `${JSON.stringify(sortKeys({ schemas: sorted }), null, 2)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
