import type { Field, Link, Schema } from '@cap/campaign-schema';
import { normalizeXpath } from '@cap/campaign-schema';
import { attrLocal, type XmlElement } from '@cap/campaign-xml';
import { convertValue, type SqlValue } from './value.converter';
import { ErrorCatalogue } from '@cap/platform-errors';
import { WriteError } from './write.errors';

export type WriteOperation = 'insert' | 'update' | 'insertOrUpdate' | 'delete' | 'none';
const OPERATIONS: readonly WriteOperation[] = ['insert', 'update', 'insertOrUpdate', 'delete', 'none'];

/** How a document arrived: v7 Write/WriteCollection, or the v8 staging APIs Ingest/IngestExt. */
export type WriteMode = 'write' | 'writeCollection' | 'ingest' | 'ingestExt';

export interface FieldValue {
  field: Field;
  value: SqlValue;
}

/** One record of a write document, reconciled against its schema: what to do, by which key, with which values. */
export interface RecordPlan {
  schema: Schema;
  operation: WriteOperation;
  /** The reconciliation key and its values (empty for a plain insert). */
  key: FieldValue[];
  /** Columns the caller sets (key fields included for inserts). */
  values: FieldValue[];
  /** Server-set columns written on insert only (created, createdBy-id). */
  onInsert: FieldValue[];
  /** Server-set columns written on insert and on update (lastModified, modifiedBy-id). */
  onWrite: FieldValue[];
  /** Single links given as sub-elements: the target record is reconciled first, its key sets the FK. */
  links: { link: Link; target: RecordPlan }[];
  /** Id generated for an inserted UUID-keyed record (Ingest returns it). */
  generatedId?: string;
  line: number;
}

export interface PlanOptions {
  mode: WriteMode;
  /** Server time for created/lastModified (callers' values are ignored, as in Campaign v8.7.1+). */
  now: Date;
  /** Operator id for createdBy-id / modifiedBy-id when the schema has them. */
  operatorId?: string;
  /** Generates UUID primary keys. */
  newId: () => string;
}

const RESERVED_ATTRS = new Set(['xtkschema', '_key', '_operation', '_defaultOperation']);

/**
 * Reconciles a write document against the compiled schemas. Write: the root is one record whose
 * `xtkschema` names its schema. WriteCollection: the root (named X or X-collection) is a container; each
 * element child is a record inheriting the root's xtkschema. Ingest/IngestExt: records of a generated
 * `…Stg` staging schema. Everything is validated before anything is planned, so a bad document writes nothing.
 */
export function planWrite(doc: XmlElement, schemas: ReadonlyMap<string, Schema>, options: PlanOptions): RecordPlan[] {
  const rootSchemaId = attrLocal(doc, 'xtkschema');
  const records = options.mode === 'writeCollection' ? doc.children : [doc];
  if (options.mode === 'writeCollection' && records.length === 0) return [];
  return records.map((record) => {
    const schemaId = attrLocal(record, 'xtkschema') ?? rootSchemaId;
    if (!schemaId) {
      throw new WriteError(ErrorCatalogue.MISSING_SCHEMA, `The document <${record.name}> does not say which schema it writes: add xtkschema="namespace:name"`, {
        line: record.line,
      });
    }
    const schema = schemas.get(schemaId);
    if (!schema) throw new WriteError(ErrorCatalogue.UNKNOWN_SCHEMA, `Unknown schema '${schemaId}'`, { schema: schemaId, line: record.line });
    checkMode(schema, options.mode);
    if (record.local !== schema.name) {
      throw new WriteError(ErrorCatalogue.UNKNOWN_SCHEMA, `Element <${record.local}> does not match schema ${schema.id} (expected <${schema.name}>)`, {
        schema: schema.id,
        line: record.line,
      });
    }
    return planRecord(record, schema, schemas, options, defaultOperation(options.mode));
  });
}

function defaultOperation(mode: WriteMode): WriteOperation {
  return mode === 'ingest' ? 'insert' : 'insertOrUpdate';
}

function checkMode(schema: Schema, mode: WriteMode): void {
  const staged = schema.placement === 'staging';
  if ((mode === 'ingest' || mode === 'ingestExt') && !staged) {
    const hint = schema.stagingSchema
      ? ` (write to its staging schema ${schema.stagingSchema})`
      : ' (it has no staging schema: set autoStg="true" on a cloud schema)';
    throw new WriteError(
      ErrorCatalogue.NOT_STAGED,
      `${mode === 'ingest' ? 'Ingest' : 'IngestExt'} only writes staging schemas; ${schema.id} is not one${hint}`,
      { schema: schema.id },
    );
  }
  if ((mode === 'write' || mode === 'writeCollection') && staged) {
    throw new WriteError(ErrorCatalogue.NOT_WRITABLE, `${schema.id} is a staging schema: use xtk:session#Ingest or IngestExt`, { schema: schema.id });
  }
  if (!schema.persistent) throw new WriteError(ErrorCatalogue.NOT_WRITABLE, `${schema.id} has no records to write`, { schema: schema.id });
}

function planRecord(el: XmlElement, schema: Schema, schemas: ReadonlyMap<string, Schema>, options: PlanOptions, fallback: WriteOperation): RecordPlan {
  const operationText = attrLocal(el, '_operation') ?? fallback;
  if (!(OPERATIONS as readonly string[]).includes(operationText)) {
    throw new WriteError(ErrorCatalogue.BAD_OPERATION, `Unknown _operation '${operationText}' on <${el.name}> (one of ${OPERATIONS.join(', ')})`, {
      schema: schema.id,
      line: el.line,
    });
  }
  let operation = operationText as WriteOperation;
  if (options.mode === 'ingest') operation = 'insert';
  if (options.mode === 'ingestExt' && operation === 'none') {
    throw new WriteError(ErrorCatalogue.BAD_OPERATION, `_operation 'none' has no meaning for IngestExt`, { schema: schema.id, line: el.line });
  }

  const given = new Map<string, FieldValue>();
  const links: RecordPlan['links'] = [];
  collectValues(el, [], schema, schemas, options, given, links);

  // insertOrUpdate of a record that fills no key cannot match anything: it is an insert (what
  // `NLWS.nmsRecipient.create({...}).save()` sends). IngestExt, update and delete still need a key.
  if (operation === 'insertOrUpdate' && options.mode !== 'ingestExt' && attrLocal(el, '_key') === undefined && !fillsAKey(schema, given)) operation = 'insert';
  const key = resolveKey(el, schema, given, operation, options.mode);
  if (operation !== 'delete' && operation !== 'none') refuseEmptyKeyFields(el, schema, given);
  const plan: RecordPlan = { schema, operation, key, values: [], onInsert: [], onWrite: [], links, line: el.line };

  if (operation === 'insert' && schema.primaryKey?.kind === 'uuid' && !given.has(schema.primaryKey.xpath)) {
    const idField = schema.fields.find((f) => f.xpath === schema.primaryKey!.xpath)!;
    plan.generatedId = options.newId();
    given.set(idField.xpath, { field: idField, value: plan.generatedId });
  }
  if (operation === 'delete' || operation === 'none') return plan;

  const keyXpaths = new Set(key.map((k) => k.field.xpath));
  for (const fv of given.values()) {
    if (fv.field.serverManaged) continue; // the server sets these
    if (operation !== 'insert' && keyXpaths.has(fv.field.xpath)) continue; // a key is matched, not rewritten
    plan.values.push(fv);
  }
  for (const f of schema.fields) {
    if (!f.serverManaged) continue;
    const value = f.xpath.endsWith('By-id') ? (options.operatorId ?? null) : options.now;
    if (value === null) continue;
    if (f.xpath === '@created' || f.xpath === '@createdBy-id') plan.onInsert.push({ field: f, value });
    else plan.onWrite.push({ field: f, value });
  }
  // insertOrUpdate reconciled on another key (`_key="@email"`) of a UUID-keyed table: when no row matches, the
  // insert needs a new primary key. Direct writes only: a staged row must not carry an id the sync would copy
  // onto the cloud rows it matches.
  const pk = schema.primaryKey;
  if (operation === 'insertOrUpdate' && pk?.kind === 'uuid' && schema.placement !== 'staging' && !given.has(pk.xpath)) {
    const idField = schema.fields.find((f) => f.xpath === pk.xpath)!;
    plan.onInsert.push({ field: idField, value: options.newId() });
  }
  return plan;
}

function collectValues(
  el: XmlElement,
  path: string[],
  schema: Schema,
  schemas: ReadonlyMap<string, Schema>,
  options: PlanOptions,
  given: Map<string, FieldValue>,
  links: RecordPlan['links'],
): void {
  for (const [qname, raw] of Object.entries(el.attrs)) {
    if (qname.startsWith('xmlns') || qname.includes(':') || RESERVED_ATTRS.has(qname)) continue;
    const xpath = [...path, `@${qname}`].join('/');
    const field = schema.fields.find((f) => f.xpath === xpath);
    if (!field) {
      throw new WriteError(ErrorCatalogue.UNKNOWN_FIELD, `Unknown attribute '${xpath}' in schema ${schema.id} (line ${el.line})`, {
        schema: schema.id,
        xpath,
        line: el.line,
      });
    }
    if (field.serverManaged) continue; // set by the server: a caller's value is ignored, not even validated
    const enumeration = field.enumId ? findEnumeration(schemas, field.enumId) : undefined;
    given.set(xpath, { field, value: convertValue(schema.id, field, raw, enumeration) });
  }
  for (const child of el.children) {
    const childPath = [...path, child.local];
    const xpath = childPath.join('/');
    const textField = schema.fields.find((f) => f.isElement && f.xpath === xpath);
    if (textField) {
      given.set(xpath, { field: textField, value: convertValue(schema.id, textField, child.text) });
      continue;
    }
    const link = path.length === 0 ? schema.links.find((l) => l.name === child.local) : undefined;
    if (link) {
      if (link.cardinality === 'collection') {
        throw new WriteError(
          ErrorCatalogue.UNKNOWN_FIELD,
          `Collection link '${link.name}' of ${schema.id} cannot be written from the parent; write ${link.target} records instead`,
          { schema: schema.id, xpath, line: child.line },
        );
      }
      const target = schemas.get(link.target)!;
      links.push({ link, target: planRecord(child, target, schemas, { ...options, mode: 'write' }, 'insertOrUpdate') });
      continue;
    }
    if (schema.fields.some((f) => f.path.join('/') === xpath || f.path.join('/').startsWith(`${xpath}/`))) {
      collectValues(child, childPath, schema, schemas, options, given, links);
      continue;
    }
    throw new WriteError(ErrorCatalogue.UNKNOWN_FIELD, `Unknown element '${xpath}' in schema ${schema.id} (line ${child.line})`, {
      schema: schema.id,
      xpath,
      line: child.line,
    });
  }
}

/** A key value that identifies nothing: absent, null, or text that is empty or only blanks. */
function isEmptyKeyValue(fv: FieldValue | undefined): boolean {
  return fv === undefined || fv.value === null || (typeof fv.value === 'string' && fv.value.trim() === '');
}

function fillsAKey(schema: Schema, given: Map<string, FieldValue>): boolean {
  return schema.keys.some((key) => key.fields.every((xpath) => !isEmptyKeyValue(given.get(xpath))));
}

/**
 * A record may not give an empty or blank value to a field of one of its schema's keys: the row could never be
 * found by that key again (`nms:service` with `name=""`), and a staged change keyed by it could not be routed.
 */
function refuseEmptyKeyFields(el: XmlElement, schema: Schema, given: Map<string, FieldValue>): void {
  for (const key of schema.keys) {
    for (const xpath of key.fields) {
      const fv = given.get(xpath);
      if (fv !== undefined && isEmptyKeyValue(fv)) {
        throw new WriteError(ErrorCatalogue.NO_KEY, `Key field '${xpath}' of ${schema.id} cannot be empty (key '${key.name}', line ${el.line})`, {
          schema: schema.id,
          xpath,
          line: el.line,
        });
      }
    }
  }
}

function findEnumeration(schemas: ReadonlyMap<string, Schema>, enumId: string) {
  const schemaId = enumId.split(':').slice(0, 2).join(':');
  return schemas.get(schemaId)?.enumerations.find((e) => e.id === enumId);
}

/**
 * The reconciliation key: `_key` when given (comma-separated xpaths), else the first key of the schema
 * whose fields the document fills (the primary key first). Inserts need none.
 */
function resolveKey(el: XmlElement, schema: Schema, given: Map<string, FieldValue>, operation: WriteOperation, mode: WriteMode): FieldValue[] {
  const explicit = attrLocal(el, '_key');
  if (explicit !== undefined) {
    const xpaths = explicit.split(',').map(normalizeXpath);
    if (xpaths.some((xpath) => xpath === '')) {
      throw new WriteError(
        ErrorCatalogue.NO_KEY,
        `_key="${explicit.slice(0, 64)}" on <${el.name}> names no field, or an empty one: give _key="@field" or "@a,@b"`,
        { schema: schema.id, line: el.line },
      );
    }
    return xpaths.map((xpath) => {
      const field = schema.fields.find((f) => f.xpath === xpath);
      if (!field)
        throw new WriteError(ErrorCatalogue.NO_KEY, `_key names '${xpath}', which ${schema.id} does not have`, { schema: schema.id, xpath, line: el.line });
      const fv = given.get(xpath);
      if (!fv || fv.value === null)
        throw new WriteError(ErrorCatalogue.NO_KEY, `_key names '${xpath}' but the document gives it no value`, { schema: schema.id, xpath, line: el.line });
      if (isEmptyKeyValue(fv))
        throw new WriteError(ErrorCatalogue.NO_KEY, `_key names '${xpath}' but its value is empty`, { schema: schema.id, xpath, line: el.line });
      return fv;
    });
  }
  if (operation === 'insert') return [];
  for (const key of schema.keys) {
    const values = key.fields.map((xpath) => given.get(xpath));
    if (values.every((v) => !isEmptyKeyValue(v))) return values as FieldValue[];
  }
  const keys = schema.keys.map((k) => k.fields.join(' + ')).join(', ') || 'none declared';
  throw new WriteError(
    ErrorCatalogue.NO_KEY,
    `No key to reconcile <${el.name}> of ${schema.id}${mode === 'ingestExt' ? ' in IngestExt' : ''}: give _key="@…" or the fields of a key (${keys})`,
    { schema: schema.id, line: el.line },
  );
}
