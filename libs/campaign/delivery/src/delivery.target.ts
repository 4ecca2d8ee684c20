import { compileQueryDef, isQueryError } from '@cap/campaign-query';
import type { Field, Schema } from '@cap/campaign-schema';
import { element, parseXml, XmlParseError, type XmlElement } from '@cap/campaign-xml';
import { ErrorCatalogue } from '@cap/platform-errors';
import { DeliveryError } from './delivery.error';
import { readTargetConditions } from './delivery.definition';

export const RECIPIENT_SCHEMA = 'nms:recipient';

/** Rows a delivery may target: far beyond any test, below PostgreSQL's LIMIT ceiling. */
const MAX_TARGET = 2_147_483_647;

/**
 * The target of a delivery as one SELECT on the cloud DB (the queryDef compiler's output, so the where
 * clause is checked and bound exactly as ExecuteQuery's): columns c0 = @id, c1 = @email, c2 = @mobilePhone,
 * c3 = @blackList. Denylisted and address-less recipients are in it; the caller excludes and counts them.
 * Throws DeliveryError DELIVERY_BAD_TARGET when the definition does not compile.
 */
export function compileDeliveryTarget(targets: string, schemas: ReadonlyMap<string, Schema>): { sql: string; params: unknown[] } {
  const wheres = readTargetConditions(targets);
  const alternatives = wheres.map((w) => element('condition', { boolOperator: 'OR' }, w.children));
  const queryDef = element('queryDef', { schema: RECIPIENT_SCHEMA, operation: 'select' }, [
    element(
      'select',
      {},
      ['@id', '@email', '@mobilePhone', '@blackList'].map((expr) => element('node', { expr })),
    ),
    ...(alternatives.length > 0 ? [element('where', {}, alternatives)] : []),
  ]);
  try {
    const { sql, params } = compileQueryDef(queryDef, schemas, { database: 'cloud', defaultLineCount: MAX_TARGET, maxLineCount: MAX_TARGET });
    return { sql, params };
  } catch (err) {
    if (isQueryError(err) || (err instanceof Error && err.name === 'XtkExpressionError')) {
      throw new DeliveryError(ErrorCatalogue.DELIVERY_BAD_TARGET, `the target where clause does not compile on nms:recipient: ${err.message}`);
    }
    throw err;
  }
}

/** A recipient field a template can use: `recipient.<path>` (`firstName`, `location.city`). */
export interface PersonalisationField {
  path: string;
  column: string;
  /** Dates are read as text (`2001-02-03`): no time-zone shift on the way. */
  asText: boolean;
}

/** The recipient fields a template can use: every value field of the (possibly extended) recipient schema. */
export function personalisationFields(schema: Schema): PersonalisationField[] {
  return schema.fields.map((f: Field) => ({ path: [...f.path, f.name].join('.'), column: f.column, asText: f.type === 'date' }));
}

/** Turns a row of personalisation columns (`f0`, `f1`… in `fields` order) into `{ firstName, location: { city } }`. */
export function recipientData(fields: readonly PersonalisationField[], row: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  fields.forEach((f, i) => {
    const parts = f.path.split('.');
    let node = out;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]!] = row[`f${i}`] ?? null;
  });
  return out;
}

/**
 * An event's `ctx` (XML text as stored) as template data: attributes and child elements by name (the first of
 * repeated elements), a leaf element as its text, an element with attributes and text keeps the text as
 * `#text`. Malformed ctx → undefined (templates that read ctx then fail for that event only).
 */
export function eventCtxData(ctx: string | null | undefined): Record<string, unknown> | undefined {
  if (!ctx || ctx.trim() === '') return {};
  let root: XmlElement;
  try {
    root = parseXml(ctx, { limits: { maxDepth: 32, maxElements: 10_000 } });
  } catch (err) {
    if (err instanceof XmlParseError) return undefined;
    throw err;
  }
  const value = toData(root);
  return typeof value === 'string' ? (value.trim() === '' ? {} : { '#text': value }) : value;
}

function toData(el: XmlElement): Record<string, unknown> | string {
  const attrs = Object.entries(el.attrs).filter(([n]) => n !== 'xmlns' && !n.includes(':'));
  if (attrs.length === 0 && el.children.length === 0) return el.text;
  const out: Record<string, unknown> = {};
  for (const [name, value] of attrs) out[name] = value;
  // Attributes first, then the first element of each name (`@id` and `id` read the same key).
  for (const child of el.children) if (!Object.hasOwn(out, child.local)) out[child.local] = toData(child);
  if (el.text.trim() !== '') out['#text'] = el.text;
  return out;
}
