import { compileInMemoryQuery, isQueryError, type InMemoryRow, type InMemorySchema } from '@cap/campaign-query';
import { schemaToXml, type SchemaCatalog } from '@cap/campaign-schema';
import { parseXml, serializeXml, type XmlElement } from '@cap/campaign-xml';
import { appErrorOf } from '@cap/platform-errors';
import { sourceDigestOf } from './schema-sources';
import type { SchemaVersion } from './schema-versions';

/** When an authored source schema was first stored and last changed (local-store's cap_authored_schema). */
export interface SourceStamp {
  id: string;
  created: string;
  lastModified: string;
}

const attr = (xpath: string, type: 'string' | 'boolean' | 'datetime' = 'string') => ({ xpath, type });

/** What an xtk:srcSchema and an xtk:schema row have in common with every entity (Campaign's xtk:entity columns). */
const ENTITY_FIELDS = [
  attr('@namespace'),
  attr('@name'),
  attr('@label'),
  attr('@entitySchema'),
  attr('@md5'),
  attr('@created', 'datetime'),
  attr('@lastModified', 'datetime'),
  { xpath: 'data', type: 'memo' as const },
];
/** Attributes of the srcSchema root element (docs of the srcSchema element), as written. */
const SCHEMA_FIELDS = [
  ...ENTITY_FIELDS,
  attr('@labelSingular'),
  attr('@desc'),
  attr('@img'),
  attr('@implements'),
  attr('@mappingType'),
  attr('@library', 'boolean'),
  attr('@view', 'boolean'),
];

/**
 * The schemas that describe schemas. Campaign keeps them in its xtk:entity table; here they are answered from the
 * schema catalog the gateway already serves (the same texts and md5s as GetEntityIfMoreRecent), so a listing can
 * never disagree with what the SDK downloads and there is no second copy to keep in step.
 */
export const SCHEMA_ENTITY_SCHEMAS: ReadonlyMap<string, InMemorySchema> = new Map([
  ['xtk:srcSchema', { id: 'xtk:srcSchema', rowName: 'srcSchema', fields: [...SCHEMA_FIELDS, attr('@extendedSchema')] }],
  ['xtk:schema', { id: 'xtk:schema', rowName: 'schema', fields: SCHEMA_FIELDS }],
  ['xtk:entity', { id: 'xtk:entity', rowName: 'entity', fields: ENTITY_FIELDS }],
]);

export interface SchemaEntityQueries {
  /** The in-memory schema of `id` when it is one of xtk:srcSchema, xtk:schema, xtk:entity. */
  schemaOf(id: string): InMemorySchema | undefined;
  /** ExecuteQuery on one of them: the result document, or a QUERY_INVALID / NO_RECORD AppError. */
  execute(queryDef: XmlElement, schema: InMemorySchema): Promise<XmlElement>;
}

/** The root attributes of a source text, parsed once per text (the catalog replaces texts, never edits them). */
function createHeads() {
  const memo = new Map<string, { text: string; attrs: Record<string, string> }>();
  return (id: string, text: string): Record<string, string> => {
    const known = memo.get(id);
    if (known && known.text === text) return known.attrs;
    let attrs: Record<string, string> = {};
    try {
      attrs = parseXml(text, { source: id }).attrs;
    } catch {
      // A file the compiler refused is not served either; its row carries only its id.
    }
    memo.set(id, { text, attrs });
    return attrs;
  };
}

const flag = (v: string | undefined): boolean => v === 'true' || v === '1';

/**
 * xtk:queryDef#ExecuteQuery on xtk:srcSchema (one row per source schema: the schema files and the authored ones,
 * an extension being its own row), xtk:schema (one row per compiled schema: an extension is merged into its base)
 * and xtk:entity (both, told apart by @entitySchema). Dates are read only when the query names them: those of
 * authored sources from local-store (`schema.stamps`), a compiled schema's lastModified from the schema versions the
 * gateways record (when a gateway first served that content). Schema files have no stored dates: NULL.
 */
export function createSchemaEntityQueries(deps: {
  catalog: SchemaCatalog;
  schemaDigest: (id: string) => string | undefined;
  versions: () => Promise<Map<string, SchemaVersion>>;
  stamps: () => Promise<SourceStamp[]>;
}): SchemaEntityQueries {
  const heads = createHeads();
  const compiledText = new WeakMap<object, string>();

  const sourceRows = (stamps: Map<string, SourceStamp>): InMemoryRow[] =>
    deps.catalog
      .sourceIds()
      .sort()
      .flatMap((id) => {
        const source = deps.catalog.sourceOf(id);
        if (!source) return [];
        const head = heads(id, source.text);
        const [namespace, name] = id.split(':');
        const stamp = source.authored ? stamps.get(id) : undefined;
        const row: Record<string, unknown> = {
          '@namespace': namespace,
          '@name': name,
          '@label': head['label'] ?? null,
          '@labelSingular': head['labelSingular'] ?? null,
          '@desc': head['desc'] ?? null,
          '@img': head['img'] ?? null,
          '@implements': head['implements'] ?? null,
          '@mappingType': head['mappingType'] ?? null,
          '@extendedSchema': head['extendedSchema'] ?? null,
          '@library': flag(head['library']),
          '@view': flag(head['view']),
          '@entitySchema': 'xtk:srcSchema',
          '@created': stamp ? new Date(stamp.created) : null,
          '@lastModified': stamp ? new Date(stamp.lastModified) : null,
        };
        // The digest and the text only when a row reaches them (a listing of names hashes nothing).
        Object.defineProperty(row, '@md5', { enumerable: true, get: () => sourceDigestOf(deps.catalog, id)?.md5 ?? null });
        Object.defineProperty(row, 'data', { enumerable: true, get: () => source.text });
        return [row as InMemoryRow];
      });

  const compiledRows = (stamps: Map<string, SourceStamp>, versions: Map<string, SchemaVersion>): InMemoryRow[] =>
    [...deps.catalog.schemas.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((schema) => {
        const source = deps.catalog.sourceOf(schema.id);
        const head = source ? heads(schema.id, source.text) : {};
        const version = versions.get(schema.id);
        const stamp = source?.authored ? stamps.get(schema.id) : undefined;
        const row: Record<string, unknown> = {
          '@namespace': schema.namespace,
          '@name': schema.name,
          '@label': schema.label,
          '@labelSingular': schema.labelSingular,
          '@desc': head['desc'] ?? null,
          '@img': head['img'] ?? null,
          '@implements': schema.implementsPersist ? 'xtk:persist' : null,
          '@mappingType': head['mappingType'] ?? null,
          '@library': flag(head['library']),
          '@view': flag(head['view']),
          '@entitySchema': 'xtk:schema',
          '@created': stamp ? new Date(stamp.created) : null,
          '@lastModified': version ? new Date(version.lastModified) : null,
        };
        Object.defineProperty(row, '@md5', { enumerable: true, get: () => deps.schemaDigest(schema.id) ?? null });
        Object.defineProperty(row, 'data', {
          enumerable: true,
          get: () => {
            let text = compiledText.get(schema);
            if (text === undefined) compiledText.set(schema, (text = serializeXml(schemaToXml(schema), { plain: true })));
            return text;
          },
        });
        return row as InMemoryRow;
      });

  return {
    schemaOf: (id) => SCHEMA_ENTITY_SCHEMAS.get(id),
    async execute(queryDef, schema) {
      try {
        const query = compileInMemoryQuery(queryDef, schema);
        const dated = query.fields.has('@created') || query.fields.has('@lastModified');
        const stamps = new Map(dated ? (await deps.stamps()).map((s) => [s.id, s]) : []);
        const versions = dated && schema.id !== 'xtk:srcSchema' ? await deps.versions() : new Map<string, SchemaVersion>();
        const rows =
          schema.id === 'xtk:srcSchema'
            ? sourceRows(stamps)
            : schema.id === 'xtk:schema'
              ? compiledRows(stamps, versions)
              : [...compiledRows(stamps, versions), ...sourceRows(stamps)];
        return query.run(rows);
      } catch (err) {
        if (isQueryError(err)) throw appErrorOf(err);
        throw err;
      }
    },
  };
}
