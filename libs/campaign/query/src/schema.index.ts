import type { Enumeration, Field, Link, Schema } from '@cap/campaign-schema';

/** Lookup maps over one compiled schema, built once per Schema object and cached. */
export interface SchemaIndex {
  readonly schema: Schema;
  /** xpath (`@email`, `location/@city`, `comment`) → field. */
  readonly fields: ReadonlyMap<string, Field>;
  /** Link name → link. */
  readonly links: ReadonlyMap<string, Link>;
  /** Element paths that group fields (`location`, `mailParameters`): not links. */
  readonly elements: ReadonlySet<string>;
  /** Enumeration name (within the schema) → enumeration. */
  readonly enumerations: ReadonlyMap<string, Enumeration>;
}

// Compiled schemas are frozen and live as long as their registry: a WeakMap ties the index to them.
const cache = new WeakMap<Schema, SchemaIndex>();

export function getSchemaIndex(schema: Schema): SchemaIndex {
  let index = cache.get(schema);
  if (!index) {
    const elements = new Set<string>();
    for (const f of schema.fields) for (let i = 1; i <= f.path.length; i++) elements.add(f.path.slice(0, i).join('/'));
    index = {
      schema,
      fields: new Map(schema.fields.map((f) => [f.xpath, f])),
      links: new Map(schema.links.map((l) => [l.name, l])),
      elements,
      enumerations: new Map(schema.enumerations.map((e) => [e.name, e])),
    };
    cache.set(schema, index);
  }
  return index;
}
