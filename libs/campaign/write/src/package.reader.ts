import type { Schema } from '@cap/campaign-schema';
import { attrLocal, type XmlElement } from '@cap/campaign-xml';
import { ErrorCatalogue } from '@cap/platform-errors';
import { WriteError } from './write.errors';

/** The schema whose entities are schema definitions: installed by schema authoring, never written as data. */
export const SOURCE_SCHEMA_ID = 'xtk:srcSchema';

/** One data entity of a package: a record of `schema`, as written inside its `<entities schema>`. */
export interface PackageEntity {
  schema: Schema;
  record: XmlElement;
}

export interface PackageContent {
  namespace?: string;
  name?: string;
  label?: string;
  /** The data entities, in package order. */
  entities: PackageEntity[];
  /** `xtk:srcSchema` entities, set apart: what installs them is the caller's decision. */
  sourceSchemas: XmlElement[];
  /**
   * A WriteCollection document of the given entities: each record carries its schema in `xtkschema`, so the
   * write planner reads it as it reads any collection of records of several schemas.
   */
  collection(entities: readonly PackageEntity[]): XmlElement;
}

/**
 * The `xtk:srcSchema` entities of a package, read before its data: they are installed first, so that the package's
 * data may be of the schemas it brings.
 */
export function sourceSchemasOf(doc: XmlElement, limits: { maxEntities: number }): XmlElement[] {
  const pkg = findPackage(doc);
  checkSize(pkg, limits);
  return pkg.children.flatMap((group) => (group.local === 'entities' && attrLocal(group, 'schema') === SOURCE_SCHEMA_ID ? group.children : []));
}

function checkSize(pkg: XmlElement, limits: { maxEntities: number }): void {
  let count = 0;
  for (const group of pkg.children) count += group.children.length;
  if (count > limits.maxEntities) {
    throw new WriteError(
      ErrorCatalogue.PACKAGE_TOO_LARGE,
      `The package holds ${count} entities; an installation takes at most ${limits.maxEntities}: split it`,
    );
  }
}

/**
 * Reads a Campaign package: `<package namespace name label…><entities schema="ns:name"><name …/>…</entities>…</package>`,
 * as its root or as the one `<package>` child of another root — `<pkgDesc>` (Campaign's package files), `<builder>`
 * (Campaign's InstallPackage documentation), or the parameter's name (the SDK's conversion of a JSON package).
 * Checks the shape and the schemas only; each record is then validated by the write planner as a Write would be.
 */
export function readPackage(doc: XmlElement, schemas: ReadonlyMap<string, Schema>, limits: { maxEntities: number }): PackageContent {
  const pkg = findPackage(doc);
  checkSize(pkg, limits);
  const entities: PackageEntity[] = [];
  const sourceSchemas: XmlElement[] = [];
  for (const group of pkg.children) {
    if (group.local !== 'entities') {
      throw malformed(`<package> holds <${group.name}> (line ${group.line}); it holds only <entities schema="namespace:name"> elements`);
    }
    const schemaId = attrLocal(group, 'schema');
    if (!schemaId) throw malformed(`<entities> (line ${group.line}) does not say which schema its entities are: add schema="namespace:name"`);
    for (const record of group.children) {
      const own = attrLocal(record, 'xtkschema');
      if (own !== undefined && own !== schemaId) {
        throw malformed(`The entity <${record.name}> (line ${record.line}) is of ${own}, inside <entities schema="${schemaId}">`);
      }
    }
    if (schemaId === SOURCE_SCHEMA_ID) {
      sourceSchemas.push(...group.children);
      continue;
    }
    const schema = schemas.get(schemaId);
    if (!schema) throw new WriteError(ErrorCatalogue.UNKNOWN_SCHEMA, `Unknown schema '${schemaId}' (<entities>, line ${group.line})`, { schema: schemaId });
    for (const record of group.children) {
      if (record.local !== schema.name) {
        throw new WriteError(ErrorCatalogue.UNKNOWN_SCHEMA, `Element <${record.local}> does not match schema ${schema.id} (expected <${schema.name}>)`, {
          schema: schema.id,
          line: record.line,
        });
      }
      entities.push({ schema, record });
    }
  }
  const namespace = attrLocal(pkg, 'namespace');
  const name = attrLocal(pkg, 'name');
  const label = attrLocal(pkg, 'label');
  return {
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(label !== undefined ? { label } : {}),
    entities,
    sourceSchemas,
    collection: (list) => ({
      name: 'package-collection',
      local: 'package-collection',
      prefix: '',
      ns: '',
      attrs: {},
      text: '',
      line: pkg.line,
      column: pkg.column,
      children: list.map(({ schema, record }) => ({ ...record, attrs: { ...record.attrs, xtkschema: schema.id } })),
    }),
  };
}

function findPackage(doc: XmlElement): XmlElement {
  if (doc.local === 'package' && !doc.children.some((c) => c.local === 'package')) return doc;
  const packages = doc.children.filter((c) => c.local === 'package');
  if (packages.length === 1) return packages[0]!;
  if (packages.length === 0) throw malformed(`The document <${doc.name}> holds no <package> element`);
  throw malformed(`The document <${doc.name}> holds ${packages.length} <package> elements; install one <package> at a time`);
}

function malformed(detail: string): WriteError {
  return new WriteError(ErrorCatalogue.PACKAGE_MALFORMED, detail);
}
