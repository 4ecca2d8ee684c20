import { counterDefault, type Field, type Schema } from '@cap/campaign-schema';
import { attrLocal, element, type XmlElement } from '@cap/campaign-xml';
import type { SchemaVersion } from '../schema-versions';

/** The most ids GetNewIds / GetNewIdsEx reserve in one call (local-store's `sequence.reserve` takes as many). */
export const MAX_NEW_IDS = 10_000;

/**
 * Campaign sequence names a default install has (compared without case): XtkNewId, the default one; NmsRecipientId,
 * the recipients' own since ACC 18.10; NmsBroadLogId and NmsTrackingLogId, the delivery and tracking logs' (Campaign's
 * "auto-incremental key" documentation). local-store takes all of them from one sequence
 * (apps/local-store/src/sequences/sequence.rpc-handlers.ts), so it must know the same names.
 */
export const KNOWN_SEQUENCES: ReadonlySet<string> = new Set(['xtknewid', 'nmsrecipientid', 'nmsbroadlogid', 'nmstrackinglogid']);

/** The sequence GetNewIds uses, and GetNewIdsEx when none is named. */
export const DEFAULT_SEQUENCE = 'XtkNewId';

/** More changed entities than this in one answer: the client is told to empty its cache instead (as Campaign does). */
export const MAX_REPORTED_ENTITIES = 10;

/** Why a GetNewIdsEx count or sequence is refused, or undefined when both are fine. */
export function newIdsProblem(count: unknown, sequence: string): { param: 'count' | 'sequence'; why: string } | undefined {
  if (typeof count !== 'number' || !Number.isSafeInteger(count)) return { param: 'count', why: 'expected a number of ids' };
  if (count < 1 || count > MAX_NEW_IDS) return { param: 'count', why: `between 1 and ${MAX_NEW_IDS} ids may be reserved at a time` };
  if (!KNOWN_SEQUENCES.has(sequence.toLowerCase())) return { param: 'sequence', why: `unknown sequence '${sequence.slice(0, 64)}'` };
  return undefined;
}

/**
 * The value a field's `default` gives a new record, read as the table's DDL reads it (libs/campaign/ddl/src/sql-default.renderer.ts):
 * a string as it is, an enumerated value by its name or value, numbers, booleans as `true`/`false`, ISO dates.
 * `GetDate()` / `now()` are left out: the database sets them when the record is written.
 */
export function literalDefault(schema: Schema, field: Field): string | undefined {
  const raw = field.default;
  // A counter default (`'DM'+CounterValue('DeliveryId')`) is a value to take, not one to copy: see counterFields.
  if (raw === undefined || counterDefault(raw)) return undefined;
  const enumeration = field.enumId === undefined ? undefined : schema.enumerations.find((e) => e.id === field.enumId);
  const value = enumeration?.values.find((v) => v.name === raw)?.value ?? raw;
  switch (field.type) {
    case 'boolean':
      return value === 'true' || value === '1' ? 'true' : value === 'false' || value === '0' ? 'false' : undefined;
    case 'datetime':
    case 'date':
      return /^(now\(\)|now|GetDate\(\))$/.test(value) ? undefined : value;
    default:
      return value;
  }
}

/** A deep copy of an element tree (attributes and children), so the answer never shares nodes with the request. */
function copy(el: XmlElement): XmlElement {
  return { ...el, attrs: { ...el.attrs }, children: el.children.map(copy) };
}

function childAt(root: XmlElement, path: readonly string[]): XmlElement {
  let node = root;
  for (const name of path) {
    let next = node.children.find((c) => c.local === name);
    if (!next) {
      next = element(name);
      node.children.push(next);
    }
    node = next;
  }
  return node;
}

/** A field's value in a record element (`location/@city` → the city attribute of <location>), or undefined. */
export function fieldValue(record: XmlElement, field: Field): string | undefined {
  let node: XmlElement | undefined = record;
  for (const name of field.path) node = node?.children.find((c) => c.local === name);
  if (!node) return undefined;
  return field.isElement ? node.children.find((c) => c.local === field.name)?.text : attrLocal(node, field.name);
}

/** Sets a field's value, creating the elements above it; with `keep`, a value already there is left as it is. */
function setField(root: XmlElement, field: Field, value: string, keep: boolean): void {
  const holder = childAt(root, field.path);
  if (field.isElement) {
    const existing = holder.children.find((c) => c.local === field.name);
    if (existing && keep) return;
    if (existing) existing.text = value;
    else holder.children.push(element(field.name, {}, [], value));
  } else if (!keep || attrLocal(holder, field.name) === undefined) {
    holder.attrs[field.name] = value;
  }
}

/** The fields whose default takes a counter's next value (`'DM'+CounterValue('DeliveryId')`), with that counter. */
export function counterFields(schema: Schema): { field: Field; prefix: string; counter: string }[] {
  return schema.fields.flatMap((field) => {
    const c = counterDefault(field.default);
    return c && !field.serverManaged && field.xpath !== schema.primaryKey?.xpath ? [{ field, ...c }] : [];
  });
}

/** The values the handler generated for counter fields, by XPath (`@internalName` → `DM42`). */
export type GeneratedValues = ReadonlyMap<string, string>;

/**
 * xtk:persist#NewInstance's answer: the object as the caller gave it, completed with the schema's defaults for what
 * it leaves out (a counter default from `generated`), the new primary key `id`, `xtkschema` and
 * `_operation="insert"`, so that a Write of it creates the record with that id. Server-set fields (created,
 * lastModified…) are left to the Write.
 */
export function newInstanceDocument(schema: Schema, given: XmlElement | undefined, id: string, generated: GeneratedValues = new Map()): XmlElement {
  const doc = given ? copy(given) : element(schema.name);
  const root: XmlElement = { ...doc, name: schema.name, local: schema.name, prefix: '', ns: '' };
  for (const field of schema.fields) {
    if (field.serverManaged || field.xpath === schema.primaryKey?.xpath) continue;
    // A generated value replaces an empty one the caller gave (missingCounterFields); a default never replaces a value.
    const made = generated.get(field.xpath);
    const value = made ?? literalDefault(schema, field);
    if (value !== undefined) setField(root, field, value, made === undefined);
  }
  return finishNew(schema, root, id);
}

function finishNew(schema: Schema, root: XmlElement, id: string): XmlElement {
  if (schema.primaryKey) root.attrs[schema.primaryKey.xpath.replace(/^@/, '')] = id;
  root.attrs['xtkschema'] = schema.id;
  root.attrs['_operation'] = 'insert';
  return root;
}

/** The counter fields NewInstance must fill: those the caller did not give. */
export function missingCounterFields(schema: Schema, given: XmlElement | undefined): ReturnType<typeof counterFields> {
  return counterFields(schema).filter((c) => !given || fieldValue(given, c.field) === undefined || fieldValue(given, c.field) === '');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INT64 = /^-?\d{1,19}$/;

/**
 * The primary key value a Duplicate names: `<schema id>|<key>` (`xtk:operator|1610`), as the SDK's `duplicate()`
 * sends it, for the schema the call addresses and of its key's type (a number for a sequence key, a UUID for a
 * UUID key); `bad` says why not.
 */
export function entityPk(schema: Schema, pk: unknown): { value: string } | { bad: string } {
  if (typeof pk !== 'string' || pk.trim() === '') return { bad: `expected '${schema.id}|<primary key>'` };
  const bar = pk.indexOf('|');
  const shown = pk.length > 80 ? `${pk.slice(0, 80)}…` : pk;
  if (bar < 0) return { bad: `'${shown}' is not '<schema>|<primary key>'` };
  const [id, value] = [pk.slice(0, bar).trim(), pk.slice(bar + 1).trim()];
  if (id !== schema.id) return { bad: `'${shown}' is not a key of ${schema.id}` };
  const ok = schema.primaryKey?.kind === 'uuid' ? UUID.test(value) : INT64.test(value) && BigInt(value) >= -(2n ** 63n) && BigInt(value) < 2n ** 63n;
  return ok ? { value } : { bad: `'${shown}' does not hold a primary key of ${schema.id} (${schema.primaryKey?.kind === 'uuid' ? 'a UUID' : 'a number'})` };
}

/**
 * The fields a duplicate copies from the original: every field a caller may write, except the primary key (the
 * copy gets a new one), the server-set fields (created, lastModified: the Write of the copy sets them) and the
 * `defOnDuplicate` fields (reset to their default). Credentials are never fields of an entity here (an operator's
 * password is in cap_operator_credential, apps/local-store/migrations/0002_operator_credentials.sql), and
 * nms:extAccount's encrypted `@password` is left out as well: a copy never carries another record's secret without
 * its writer setting it.
 */
export function copiedFields(schema: Schema): Field[] {
  return schema.fields.filter(
    (f) => !f.serverManaged && f.xpath !== schema.primaryKey?.xpath && !f.defOnDuplicate && !(schema.id === 'nms:extAccount' && f.xpath === '@password'),
  );
}

/** A key the copy would share with the original, and the one string field of it that the copy renames. */
export interface ClashingKey {
  field: Field;
  /** The key's other fields, copied as they are (`@enum-id` of xtk:enumValue's key `@enum-id, @name`). */
  scope: Field[];
}

/**
 * The keys (unique indexes) a duplicate would share with the original: keys whose fields are all copied and hold a
 * string field, which is renamed (`@name` of xtk:operator; the last string of the key when there are several). A key
 * with a field reset by `defOnDuplicate` (nms:delivery's `@internalName`) or made of ids only is left out: the first
 * differs already, the second has nothing to rename (a Write of such a copy is refused as any duplicate key is).
 */
export function clashingKeys(schema: Schema): ClashingKey[] {
  const copied = new Map(copiedFields(schema).map((f) => [f.xpath, f]));
  return schema.keys.flatMap((k) => {
    const fields = k.fields.map((x) => copied.get(x));
    if (fields.length === 0 || fields.some((f) => f === undefined)) return [];
    // With several strings (xtk:image's namespace and name), the last one is the name to rename within the others.
    const renamed = fields.filter((f) => f!.type === 'string' || f!.type === 'memo').pop();
    return renamed ? [{ field: renamed, scope: fields.filter((f) => f !== renamed) as Field[] }] : [];
  });
}

/** A field as a queryDef selects it or compares it: `@name`, `desc`, `[mailParameters/@subject]`. */
export const selectExpr = (f: Field): string => (!f.isElement && f.xpath.includes('/') ? `[${f.xpath}]` : f.xpath);

const INTEGER_TYPES: ReadonlySet<string> = new Set(['byte', 'short', 'long', 'int64']);

/**
 * The queryDef condition matching the records that have one of `values` in `field` and the same values as the copy in
 * the key's other fields: `(@name = 'a' OR @name = 'b') AND @enum-id = 5`. Undefined when nothing can clash (a
 * scope value is empty: PostgreSQL's unique indexes let NULLs repeat) or a scope value is of a type not compared
 * here (neither text nor an integer).
 */
export function clashCondition(field: Field, values: readonly string[], scope: readonly { field: Field; value: string | undefined }[]): string | undefined {
  const parts = [`(${values.map((v) => `${selectExpr(field)} = ${xtkString(v)}`).join(' OR ')})`];
  for (const { field: f, value } of scope) {
    if (value === undefined || value === '') return undefined;
    if (f.type === 'string' || f.type === 'memo' || f.type === 'uuid') parts.push(`${selectExpr(f)} = ${xtkString(value)}`);
    else if (INTEGER_TYPES.has(f.type) && INT64.test(value)) parts.push(`${selectExpr(f)} = ${value}`);
    else return undefined;
  }
  return parts.join(' AND ');
}

/** How many renamed candidates (`name_1`…) one uniqueness query tries before falling back to a random suffix. */
export const RENAME_CANDIDATES = 20;

/** `webapp` → `webapp_1`, `webapp_2`…: the base cut so that the suffix fits the column. */
export function renamedCandidates(value: string, length: number | undefined, count = RENAME_CANDIDATES): string[] {
  return Array.from({ length: count }, (_, i) => {
    const suffix = `_${i + 1}`;
    const chars = [...value];
    return (length !== undefined && chars.length + suffix.length > length ? chars.slice(0, length - suffix.length).join('') : value) + suffix;
  });
}

/**
 * xtk:persist#Duplicate's answer: a new object of the schema with the original's copied fields (copiedFields), its
 * `defOnDuplicate` fields at their default (a counter default from `generated`), clashing keys renamed (`renamed`,
 * by XPath), the new primary key, `xtkschema` and `_operation="insert"`. Nothing is written: a Write of it creates
 * the copy. Empty values are left out (an unset number reads back as empty text, which a Write would refuse).
 */
export function duplicateDocument(schema: Schema, original: XmlElement, id: string, generated: GeneratedValues, renamed: GeneratedValues): XmlElement {
  const root = element(schema.name);
  for (const field of copiedFields(schema)) {
    const value = renamed.get(field.xpath) ?? fieldValue(original, field);
    if (value !== undefined && value !== '') setField(root, field, value, false);
  }
  for (const field of schema.fields.filter((f) => f.defOnDuplicate && !f.serverManaged && f.xpath !== schema.primaryKey?.xpath)) {
    const value = generated.get(field.xpath) ?? literalDefault(schema, field);
    if (value !== undefined) setField(root, field, value, false);
  }
  return finishNew(schema, root, id);
}

/** An XTK string literal (`'it\'s'`): backslashes and quotes escaped as the expression tokenizer reads them. */
export function xtkString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Campaign's timestamp text: `2024-01-01 10:00:00.000Z`. */
const campaignDate = (ms: number): string => new Date(ms).toISOString().replace('T', ' ');

/** The entity types a GetModifiedEntities request asks about (`<xtk:schema xmlns:xtk="urn:xtk:schema"/>` children). */
function requestedTypes(request: XmlElement): Set<string> {
  return new Set(request.children.map((c) => (c.ns.startsWith('urn:') ? c.ns.slice(4) : c.name)));
}

/**
 * xtk:session#GetModifiedEntities' answer for the SDK's cache refresher (`<cache buildNumber time [emptyCache]>`
 * with one `<entityCache pk schema md5 lastModified/>` per entity changed since `lastModified`):
 * - no `lastModified` yet (the first call): only the server's build number and time, to send back next time;
 * - another build number: `emptyCache="true"` (the server was upgraded: everything may have changed);
 * - the schemas changed since then, or `emptyCache="true"` when there are more than MAX_REPORTED_ENTITIES.
 * Only xtk:schema entities are tracked: other types asked about are never reported. A `lastModified` that is not a
 * date is refused (`bad`).
 */
export function modifiedEntitiesDocument(args: {
  request: XmlElement;
  buildNumber: string;
  now: number;
  schemas: ReadonlyMap<string, SchemaVersion>;
}): XmlElement | { bad: string } {
  const { request, buildNumber, now } = args;
  const answer = element('cache', { buildNumber, time: new Date(now).toISOString() });
  const theirBuild = attrLocal(request, 'buildNumber');
  const since = attrLocal(request, 'lastModified');
  const sinceMs = since === undefined ? undefined : Date.parse(since);
  if (sinceMs !== undefined && Number.isNaN(sinceMs)) return { bad: `lastModified '${since!.slice(0, 40)}' is not a date` };
  if (theirBuild !== undefined && theirBuild !== buildNumber) {
    answer.attrs['emptyCache'] = 'true';
    return answer;
  }
  if (sinceMs === undefined) return answer;
  const types = requestedTypes(request);
  if (types.size > 0 && !types.has('xtk:schema')) return answer;
  const changed = [...args.schemas]
    .filter(([, v]) => v.lastModified >= sinceMs)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([id, v]) => element('entityCache', { lastModified: campaignDate(v.lastModified), md5: v.md5, pk: `xtk:schema|${id}`, schema: 'xtk:schema' }));
  if (changed.length > MAX_REPORTED_ENTITIES) answer.attrs['emptyCache'] = 'true';
  else answer.children.push(...changed);
  return answer;
}
