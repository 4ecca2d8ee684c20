import type { Schema } from '@cap/campaign-schema';
import { SOAP_FAULTS, SoapFault } from '@cap/campaign-soap';
import { readPackage, sourceSchemasOf, WriteError, type PackageContent, type PackageEntity } from '@cap/campaign-write';
import { attrLocal, element, parseXml, serializeXml, type XmlElement } from '@cap/campaign-xml';
import { appErrorOf, ErrorCatalogue } from '@cap/platform-errors';
import type { Logger } from '@cap/platform-logger';
import type { SecretCipher } from '@cap/platform-secrets';
import type { DownstreamName, Downstreams } from '../downstream.client';
import type { CallContext, SoapMethodTable } from '../soap/soap-method';
import { callerClaim, serviceFor } from './data.routing';
import { encryptExtAccountPasswords } from './ext-account.passwords';
import { boundedText, PARAM_LIMITS } from './param.limits';

/** What one installation or one export takes at most (docs/packages.md#limits). */
export const PACKAGE_LIMITS = {
  /**
   * Entities of one package: all are written in one transaction, which must end within the RPC deadline
   * (RPC_TIMEOUT_MS, 3 s by default) — a package that times out is rolled back, never half-written.
   */
  entities: 200,
  /** Records one GenerateDoc exports, over all its definitions: no more than one package installs. */
  exportRecords: 200,
} as const;

interface PackageEntityReport {
  schema: string;
  key: string;
  outcome: 'created' | 'updated' | 'deleted' | 'unchanged';
}
interface PackageInstallResult {
  entities: PackageEntityReport[];
  linked: { inserted: number; updated: number; deleted: number };
}

/**
 * Installs the `xtk:srcSchema` entities of a package: the one place where a package meets schema authoring. The
 * gateway wires run-time schema authoring here (main.ts); without it (REFUSE_SOURCE_SCHEMAS) a package holding
 * schemas is refused whole (PACKAGE_SOURCE_SCHEMA), before any of its data is written.
 */
export type SourceSchemaInstaller = (sourceSchemas: readonly XmlElement[], ctx: CallContext) => Promise<void>;

export const REFUSE_SOURCE_SCHEMAS: SourceSchemaInstaller = async (sourceSchemas) => {
  const names = sourceSchemas.map((s) => `${attrLocal(s, 'namespace') ?? '?'}:${attrLocal(s, 'name') ?? '?'}`);
  throw SoapFault.of(ErrorCatalogue.PACKAGE_SOURCE_SCHEMA, {
    detail: `The package holds ${sourceSchemas.length} xtk:srcSchema entit${sourceSchemas.length === 1 ? 'y' : 'ies'} (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}): schemas cannot be installed by a package on this platform yet; install the schema files with the deployment (SCHEMA_DIRS) and the package without them. Nothing was installed`,
  });
};

/**
 * xtk:builder#InstallPackage and xtk:specFile#GenerateDoc (docs/packages.md), administrators only. A package's
 * entities are written by the service that owns their database, in ONE transaction: all or nothing. A package whose
 * entities live in both databases is refused (PACKAGE_SPANS_DATABASES): two transactions could leave it half-installed.
 */
export function createPackageSoapMethods(deps: {
  schemas: ReadonlyMap<string, Schema>;
  downstreams: Downstreams;
  logger: Logger;
  installSourceSchemas?: SourceSchemaInstaller;
  cipher: Pick<SecretCipher, 'encrypt' | 'decrypt'>;
}): SoapMethodTable {
  const installSourceSchemas = deps.installSourceSchemas ?? REFUSE_SOURCE_SCHEMAS;

  const readSourceSchemas = (doc: XmlElement): XmlElement[] => {
    try {
      return sourceSchemasOf(doc, { maxEntities: PACKAGE_LIMITS.entities });
    } catch (err) {
      if (err instanceof WriteError) throw appErrorOf(err);
      throw err;
    }
  };

  const read = (doc: XmlElement): PackageContent => {
    try {
      return readPackage(doc, deps.schemas, { maxEntities: PACKAGE_LIMITS.entities });
    } catch (err) {
      if (err instanceof WriteError) throw appErrorOf(err);
      throw err;
    }
  };

  return {
    'xtk:builder#InstallPackage': {
      auth: 'operator',
      right: 'admin',
      async handle(ctx) {
        const doc = ctx.decoded.values.get('parameters') as XmlElement | undefined;
        if (!doc || typeof doc !== 'object' || !('local' in doc))
          throw SOAP_FAULTS.badParameter(ctx.method.name, 'parameters', 'the package document is missing');
        // Schemas first (each installed and announced on its own, docs/schema-authoring.md), so that the package's
        // data may be of the schemas it brings; then the data, in one transaction.
        const sourceSchemas = readSourceSchemas(doc);
        if (sourceSchemas.length > 0) await installSourceSchemas(sourceSchemas, ctx);
        const pkg = read(doc);
        const byService = new Map<DownstreamName, PackageEntity[]>();
        for (const entity of pkg.entities) {
          const service = serviceFor(entity.schema);
          byService.set(service, [...(byService.get(service) ?? []), entity]);
        }
        if (byService.size > 1) {
          const [a, b] = [...byService.values()].map((list) => list[0]!.schema.id);
          throw SoapFault.of(ErrorCatalogue.PACKAGE_SPANS_DATABASES, {
            detail: `The package holds entities of the local database (${a}) and of the cloud database (${b}); each database's part would be its own transaction, so the package could be half-installed. Split it into one package per database. Nothing was installed`,
          });
        }
        const result: PackageInstallResult = { entities: [], linked: { inserted: 0, updated: 0, deleted: 0 } };
        const started = Date.now();
        for (const [service, entities] of byService) {
          const collection = pkg.collection(entities);
          // As for a Write: only tokens of the instance keys reach the database as external-account passwords.
          encryptExtAccountPasswords(collection, true, deps.schemas, deps.cipher);
          const part = await deps.downstreams.call<PackageInstallResult>(service, 'data.installPackage', {
            doc: serializeXml(collection, { plain: true }),
            ...callerClaim(ctx.caller),
          });
          result.entities.push(...part.entities);
        }
        const count = (outcome: PackageEntityReport['outcome']) => result.entities.filter((e) => e.outcome === outcome).length;
        const summary = { created: count('created'), updated: count('updated'), deleted: count('deleted'), unchanged: count('unchanged') };
        const name = pkg.namespace && pkg.name ? `${pkg.namespace}:${pkg.name}` : (pkg.name ?? '');
        deps.logger.info(
          {
            event: 'package.installed',
            package: name,
            operator: ctx.caller.kind === 'operator' ? ctx.caller.operator.login : undefined,
            ...summary,
            ms: Date.now() - started,
            entities: result.entities.slice(0, 100),
          },
          `Package ${name || '(unnamed)'} installed: ${summary.created} created, ${summary.updated} updated, ${summary.deleted} deleted, ${summary.unchanged} unchanged`,
        );
        const report = element(
          'report',
          {
            package: name,
            created: String(summary.created),
            updated: String(summary.updated),
            deleted: String(summary.deleted),
            unchanged: String(summary.unchanged),
          },
          result.entities.map((e) => element('entity', { schema: e.schema, key: e.key, outcome: e.outcome })),
        );
        return [report];
      },
    },
    'xtk:specFile#GenerateDoc': {
      auth: 'operator',
      right: 'admin',
      handle: async (ctx) => [await generatePackage(ctx)],
    },
  };

  /** The package of the records a package definition selects: `<definition schema="…"><where>…</where></definition>`… */
  async function generatePackage(ctx: CallContext): Promise<XmlElement> {
    let spec = ctx.decoded.entity;
    // `create({specFile: {...}})` wraps the definition once more: accept both forms.
    if (spec && !spec.children.some((c) => c.local === 'definition') && spec.children.length === 1) spec = spec.children[0]!;
    const definitions = spec?.children.filter((c) => c.local === 'definition') ?? [];
    if (!spec || definitions.length === 0) {
      throw SoapFault.of(ErrorCatalogue.PACKAGE_MALFORMED, { detail: 'The package definition lists no <definition schema="namespace:name"> element' });
    }
    const groups: XmlElement[] = [];
    let total = 0;
    for (const definition of definitions) {
      const id = attrLocal(definition, 'schema');
      if (!id) throw SoapFault.of(ErrorCatalogue.PACKAGE_MALFORMED, { detail: `<definition> (line ${definition.line}) does not name its schema` });
      const schema = deps.schemas.get(id);
      if (!schema || !schema.persistent) throw SoapFault.of(ErrorCatalogue.UNKNOWN_SCHEMA, { detail: `Unknown schema '${id}' (or a schema without records)` });
      const where = definition.children.filter((c) => c.local === 'where');
      if (where.length > 1 || definition.children.some((c) => c.local !== 'where')) {
        throw SoapFault.of(ErrorCatalogue.PACKAGE_MALFORMED, { detail: `<definition schema="${id}"> holds only one <where> of conditions, as a queryDef's` });
      }
      const fields = exportedFields(schema);
      const queryDef = element('queryDef', { schema: schema.id, operation: 'select', lineCount: String(PACKAGE_LIMITS.exportRecords - total + 1) }, [
        element(
          'select',
          {},
          fields.map((f) => element('node', { expr: !f.isElement && f.xpath.includes('/') ? `[${f.xpath}]` : f.xpath })),
        ),
        ...where,
        ...(schema.primaryKey ? [element('orderBy', {}, [element('node', { expr: schema.primaryKey.xpath })])] : []),
      ]);
      const result = await deps.downstreams.call<XmlElement | { xml: string }>(serviceFor(schema), 'data.query', {
        queryDef: boundedText(ctx, 'queryDef', serializeXml(queryDef, { plain: true }), PARAM_LIMITS.queryDefChars),
        format: 'text',
      });
      const rows = (typeof (result as { xml?: unknown }).xml === 'string' ? parseXml((result as { xml: string }).xml) : (result as XmlElement)).children;
      total += rows.length;
      if (total > PACKAGE_LIMITS.exportRecords) {
        throw SoapFault.of(ErrorCatalogue.PACKAGE_TOO_LARGE, {
          detail: `The package would hold more than ${PACKAGE_LIMITS.exportRecords} records: narrow the definitions' <where> conditions, or export in several packages`,
        });
      }
      groups.push(element('entities', { schema: schema.id }, rows));
    }
    const attrs: Record<string, string> = { buildNumber: '*', buildVersion: '*' };
    for (const a of ['namespace', 'name', 'label', 'vendor']) {
      const v = attrLocal(spec, a);
      if (v !== undefined) attrs[a] = v;
    }
    return element('package', attrs, groups);
  }
}

/**
 * The fields a package carries: every field the caller may set, without the server-set ones (created, lastModified)
 * and without a generated primary key when the schema has another key to find the record again (so a package
 * installs on another instance, where ids differ).
 */
function exportedFields(schema: Schema) {
  const pk = schema.primaryKey;
  const dropPk = pk !== undefined && schema.keys.some((k) => k.fields.length > 0 && !k.fields.includes(pk.xpath));
  return schema.fields.filter((f) => !f.serverManaged && !(dropPk && f.xpath === pk.xpath));
}
