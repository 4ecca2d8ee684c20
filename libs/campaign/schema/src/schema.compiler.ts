import { SchemaError, type SchemaProblem } from './schema.errors';
import type { Database, Enumeration, Field, Key, Link, Method, Placement, Schema, XtkType } from './schema.model';
import { columnName, isIdentifier, snakeCase, tableName } from './naming';
import { parseSrcSchema, type SrcAttribute, type SrcElement, type SrcSchema } from './src-schema.parser';

export interface SchemaSource {
  /** Shown in error messages: the file name, relative to its folder. */
  file: string;
  text: string;
}

const DATABASES: Record<Placement, Database[]> = {
  local: ['local'],
  replicated: ['local', 'cloud'],
  cloud: ['cloud'],
  staging: ['local'],
};

/** Fields whose values the server sets itself, ignoring what callers send (Campaign v8.7.1+). */
const SERVER_MANAGED = new Set(['@created', '@lastModified', '@createdBy-id', '@modifiedBy-id']);

/**
 * Compiles srcSchema sources (built-ins and a customer's own folder) into the data model: extensions are
 * merged into the schemas they extend, links are resolved in both directions, staging schemas are generated
 * for every `autoStg` schema. Every problem of every file is reported at once in one SchemaError.
 */
export function compileSchemas(sources: SchemaSource[]): Map<string, Schema> {
  const problems: SchemaProblem[] = [];
  const parsed = sources.map((s) => parseSrcSchema(s.file, s.text, problems)).filter((s): s is SrcSchema => s !== undefined);

  const bases = new Map<string, SrcSchema>();
  for (const src of parsed.filter((s) => !s.extends)) {
    const id = `${src.namespace}:${src.name}`;
    const previous = bases.get(id);
    if (previous) problems.push({ file: src.file, line: src.line, message: `schema ${id} is already defined in ${previous.file}` });
    else bases.set(id, src);
  }
  const merged = new Map<string, { src: SrcSchema; element: SrcElement; files: string[]; methods: SrcSchema['methods']; enums: SrcSchema['enumerations'] }>();
  for (const [id, src] of bases) {
    if (!src.mainElement) {
      if (src.methods.length === 0) problems.push({ file: src.file, line: src.line, message: `schema ${id} has no main <element>` });
    }
    merged.set(id, {
      src,
      element: src.mainElement ?? {
        name: src.name,
        line: src.line,
        autopk: false,
        autouuid: false,
        autoStg: false,
        attributes: [],
        links: [],
        keys: [],
        writeRights: [],
      },
      files: [src.file],
      methods: [...src.methods],
      enums: [...src.enumerations],
    });
  }
  for (const ext of parsed.filter((s) => s.extends)) {
    const target = merged.get(ext.extends!);
    if (!target) {
      problems.push({ file: ext.file, line: ext.line, attribute: 'extendedSchema', message: `extends unknown schema ${ext.extends}` });
      continue;
    }
    mergeExtension(target, ext, problems);
  }

  const schemas = new Map<string, Schema>();
  for (const [id, m] of merged) schemas.set(id, buildSchema(id, m, problems));
  for (const schema of schemas.values()) resolveLinks(schema, schemas, merged.get(schema.id)!, problems);
  for (const schema of schemas.values()) resolveCollections(schema, schemas, problems);
  for (const schema of [...schemas.values()]) {
    checkKeys(schema, merged.get(schema.id)!, problems);
    if (schema.autoStg) {
      if (schema.placement !== 'cloud') {
        const m = merged.get(schema.id)!;
        problems.push({
          file: m.src.file,
          line: m.element.line,
          attribute: 'autoStg',
          message: `staging is only for cloud schemas; ${schema.id} is ${schema.placement}`,
        });
        continue;
      }
      const staging = buildStagingSchema(schema);
      schema.stagingSchema = staging.id;
      schemas.set(staging.id, staging);
    }
  }
  if (problems.length > 0) throw new SchemaError(problems);
  for (const schema of schemas.values()) deepFreeze(schema);
  return schemas;
}

type Merged = { src: SrcSchema; element: SrcElement; files: string[]; methods: SrcSchema['methods']; enums: SrcSchema['enumerations'] };

function mergeExtension(target: Merged, ext: SrcSchema, problems: SchemaProblem[]): void {
  target.files.push(ext.file);
  const el = ext.mainElement;
  if (el) {
    if (el.name !== target.element.name) {
      problems.push({ file: ext.file, line: el.line, message: `an extension of ${ext.extends} must extend its element '${target.element.name}'` });
      return;
    }
    for (const attr of el.attributes) {
      const clash = target.element.attributes.find((a) => a.name === attr.name && a.path.join('/') === attr.path.join('/'));
      if (clash && (clash.type !== attr.type || clash.isElement !== attr.isElement)) {
        problems.push({ file: ext.file, line: attr.line, attribute: 'type', message: `'${attr.name}' already exists in ${ext.extends} as ${clash.type}` });
      } else if (!clash) target.element.attributes.push(attr);
    }
    for (const link of el.links) {
      if (target.element.links.some((l) => l.name === link.name))
        problems.push({ file: ext.file, line: link.line, attribute: 'name', message: `link '${link.name}' already exists in ${ext.extends}` });
      else target.element.links.push(link);
    }
    target.element.keys.push(...el.keys);
    // An extension may restrict writes further, never lift a restriction.
    for (const right of el.writeRights) if (!target.element.writeRights.includes(right)) target.element.writeRights.push(right);
    if (el.autoStg) target.element.autoStg = true;
  }
  target.enums.push(...ext.enumerations);
  target.methods.push(...ext.methods);
}

function placementOf(m: Merged): Placement {
  const declared = m.element.placement ?? m.src.placement;
  if (declared) return declared;
  if (m.element.dataSource) return 'cloud';
  return m.src.namespace === 'xtk' ? 'local' : 'cloud';
}

function buildSchema(id: string, m: Merged, problems: SchemaProblem[]): Schema {
  const { src, element } = m;
  const placement = placementOf(m);
  const enumerations: Enumeration[] = m.enums.map((e) => ({
    name: e.name,
    id: `${id}:${e.name}`,
    basetype: e.basetype,
    label: e.label ?? e.name,
    values: e.values,
    ...(e.default === undefined ? {} : { default: e.default }),
  }));
  const fields: Field[] = [];
  let primaryKey: Schema['primaryKey'];
  if (element.autopk) {
    const kind = placement === 'cloud' ? 'uuid' : 'sequence';
    primaryKey = { xpath: '@id', column: 'id', kind };
    fields.push(
      field(
        { name: 'id', path: [], isElement: false, type: kind === 'uuid' ? 'uuid' : 'int64', notNull: true, line: element.line, label: 'Primary key' },
        src.file,
        'id',
      ),
    );
  }
  for (const attr of element.attributes) {
    if (primaryKey && attr.path.length === 0 && attr.name === 'id') continue; // autopk owns @id
    // Folded to lower case, as PostgreSQL folds Campaign's unquoted names (sqlname="sEmail" is column semail): every
    // layer (DDL, writes, the staging pipeline's contracts) then names one column one way.
    const col = (attr.sqlname ?? columnName(attr.path, attr.name)).toLowerCase();
    const f = field(attr, src.file, col);
    if (attr.enum !== undefined) {
      const enumId = attr.enum.split(':').length === 3 ? attr.enum : `${id}:${attr.enum}`;
      if (attr.enum.split(':').length !== 3 && !enumerations.some((e) => e.name === attr.enum)) {
        problems.push({ file: src.file, line: attr.line, attribute: 'enum', message: `unknown enumeration '${attr.enum}'` });
      }
      f.enumId = enumId;
    }
    fields.push(f);
  }
  const methods: Method[] = m.methods.map((x) => ({
    name: x.name,
    static: x.static,
    const: x.const,
    params: x.params.map((p) => ({ ...p })),
    ...(x.interface ? { interface: x.interface } : {}),
  }));
  const persistent = element.autopk || element.attributes.length > 0 || element.links.length > 0;
  const table = (element.sqltable ?? tableName(src.namespace, src.name)).toLowerCase();
  if (!isIdentifier(table)) problems.push({ file: src.file, line: element.line, attribute: 'sqltable', message: `'${table}' is not a valid table name` });
  const keys: Key[] = element.keys.map((k) => ({ name: k.name, internal: k.internal, fields: k.fields.map(normalizeXpath) }));
  if (primaryKey && !keys.some((k) => k.fields.length === 1 && k.fields[0] === '@id')) keys.unshift({ name: 'id', internal: true, fields: ['@id'] });
  return {
    id,
    namespace: src.namespace,
    name: src.name,
    label: src.label ?? element.label ?? src.name,
    labelSingular: src.labelSingular ?? src.label ?? src.name,
    placement,
    persistent,
    databases: persistent ? DATABASES[placement] : [],
    table,
    primaryKey,
    fields,
    links: [],
    keys,
    enumerations,
    methods,
    implementsPersist: src.implementsPersist,
    autoStg: element.autoStg,
    writeRights: [...element.writeRights],
    sources: m.files,
  };
}

function field(
  attr: Pick<SrcAttribute, 'name' | 'path' | 'isElement' | 'type' | 'notNull' | 'line'> & Partial<SrcAttribute>,
  file: string,
  column: string,
): Field {
  const xpath = attr.isElement ? [...attr.path, attr.name].join('/') : [...attr.path, `@${attr.name}`].join('/');
  return {
    xpath,
    name: attr.name,
    path: attr.path,
    isElement: attr.isElement,
    type: attr.type,
    notNull: attr.notNull,
    label: attr.label ?? attr.name,
    column,
    serverManaged: SERVER_MANAGED.has(xpath),
    source: { file, line: attr.line },
    ...(attr.length === undefined ? {} : { length: attr.length }),
    ...(attr.default === undefined ? {} : { default: attr.default }),
    ...(attr.defOnDuplicate ? { defOnDuplicate: true } : {}),
  };
}

/** Types whose columns PostgreSQL compares with `=` (a UUID key is text, see the DDL). */
function typeFamily(type: XtkType): 'text' | 'number' | 'boolean' | 'time' {
  switch (type) {
    case 'string':
    case 'memo':
    case 'uuid':
      return 'text';
    case 'boolean':
      return 'boolean';
    case 'date':
    case 'datetime':
      return 'time';
    default:
      return 'number';
  }
}

/** `[@folder-id]` → `@folder-id`; whitespace trimmed. */
export function normalizeXpath(xpath: string): string {
  const t = xpath.trim();
  return t.startsWith('[') && t.endsWith(']') ? t.slice(1, -1).trim() : t;
}

function resolveLinks(schema: Schema, all: Map<string, Schema>, m: Merged, problems: SchemaProblem[]): void {
  for (const l of m.element.links) {
    const target = all.get(l.target);
    const at = { file: m.src.file, line: l.line };
    if (!target) {
      problems.push({ ...at, attribute: 'target', message: `link '${l.name}' targets unknown schema ${l.target}` });
      continue;
    }
    const link: Link = {
      name: l.name,
      target: l.target,
      cardinality: l.collection ? 'collection' : 'single',
      joins: [],
      label: l.label ?? l.name,
      source: at,
      ...(l.revLink ? { revLink: l.revLink } : {}),
    };
    if (!l.collection) {
      if (l.joins.length > 0) link.joins = l.joins.map((j) => ({ src: normalizeXpath(j.src), dst: normalizeXpath(j.dst) }));
      else if (target.primaryKey) link.joins = [{ src: `@${l.name}-id`, dst: target.primaryKey.xpath }];
      else {
        problems.push({ ...at, message: `link '${l.name}' needs a <join>: ${l.target} has no automatic primary key` });
        continue;
      }
      for (const j of link.joins) {
        const dst = target.fields.find((f) => f.xpath === j.dst);
        if (!dst) {
          problems.push({ ...at, attribute: 'xpath-dst', message: `${l.target} has no field ${j.dst}` });
          continue;
        }
        const src = schema.fields.find((f) => f.xpath === j.src);
        if (src) {
          // A join on fields the schema already has (Campaign's nms:recipient country link joins
          // location/@countryCode to @isoA2): no foreign key is added, but both sides must compare in SQL.
          if (typeFamily(src.type) !== typeFamily(dst.type)) {
            problems.push({
              ...at,
              attribute: 'xpath-src',
              message: `link '${l.name}' joins ${j.src} (${src.type}) to ${j.dst} of ${l.target} (${dst.type}): the types cannot be compared`,
            });
          }
        } else {
          const m2 = /^@([A-Za-z_][A-Za-z0-9_-]*)$/.exec(j.src);
          if (!m2) {
            problems.push({ ...at, attribute: 'xpath-src', message: `'${j.src}' must be an attribute of ${schema.id}` });
            continue;
          }
          // The foreign key column, typed like the target's key.
          schema.fields.push({
            xpath: j.src,
            name: m2[1]!,
            path: [],
            isElement: false,
            type: dst.type,
            notNull: false,
            label: `${link.label} (key)`,
            column: snakeCase(m2[1]!),
            serverManaged: SERVER_MANAGED.has(j.src),
            source: at,
            ...(dst.length === undefined ? {} : { length: dst.length }),
          });
        }
      }
    }
    schema.links.push(link);
  }
}

/**
 * A collection (1-N) link takes its joins from the single link on the target that points back: the one
 * named by revLink, or the only single link of the target to this schema.
 */
function resolveCollections(schema: Schema, all: Map<string, Schema>, problems: SchemaProblem[]): void {
  for (const link of schema.links) {
    if (link.cardinality !== 'collection') continue;
    const target = all.get(link.target)!;
    const candidates = target.links.filter((x) => x.cardinality === 'single' && x.target === schema.id && (!link.revLink || x.name === link.revLink));
    if (candidates.length !== 1) {
      problems.push({
        file: link.source.file,
        line: link.source.line,
        attribute: 'revLink',
        message: link.revLink
          ? `${link.target} has no link '${link.revLink}' back to ${schema.id}`
          : `collection link '${link.name}' needs revLink naming the link of ${link.target} back to ${schema.id}`,
      });
      continue;
    }
    const reverse = candidates[0]!;
    link.joins = reverse.joins.map((j) => ({ src: j.dst, dst: j.src }));
    link.revLink = reverse.name;
    if (!reverse.revLink) reverse.revLink = link.name;
  }
}

function checkKeys(schema: Schema, m: Merged, problems: SchemaProblem[]): void {
  for (const key of schema.keys) {
    for (const xpath of key.fields) {
      if (!schema.fields.some((f) => f.xpath === xpath)) {
        const src = m.element.keys.find((k) => k.name === key.name);
        problems.push({
          file: m.src.file,
          line: src?.line ?? m.element.line,
          attribute: 'xpath',
          message: `key '${key.name}' names ${xpath}, which ${schema.id} does not have`,
        });
      }
    }
  }
}

/** The generated `…Stg` schema of a staged cloud schema: same fields and keys, a local table, no links. */
function buildStagingSchema(schema: Schema): Schema {
  const name = `${schema.name}Stg`;
  return {
    ...schema,
    id: `${schema.namespace}:${name}`,
    name,
    label: `${schema.label} (staging)`,
    labelSingular: `${schema.labelSingular} (staging)`,
    placement: 'staging',
    persistent: true,
    databases: DATABASES.staging,
    table: `${schema.table}_stg`,
    fields: schema.fields.map((f) => ({ ...f })),
    links: [],
    keys: schema.keys.map((k) => ({ ...k, fields: [...k.fields] })),
    enumerations: schema.enumerations.map((e) => ({ ...e, id: e.id.replace(`${schema.id}:`, `${schema.namespace}:${name}:`) })),
    methods: [],
    implementsPersist: false,
    autoStg: false,
    // Staged records become the cloud schema's rows: the same rights are needed to write them.
    writeRights: [...schema.writeRights],
    stagingOf: schema.id,
    sources: [...schema.sources],
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
