import type { Schema } from '@cap/campaign-schema';
import { rawXml, SOAP_FAULTS, SoapFault } from '@cap/campaign-soap';
import { attrLocal, element, serializeXml, type XmlElement } from '@cap/campaign-xml';
import { ErrorCatalogue } from '@cap/platform-errors';
import type { Downstreams } from '../downstream.client';
import type { SchemaEntityQueries } from '../schema-entities';
import type { CallContext, SoapMethodTable } from '../soap/soap-method';
import { serviceFor } from './data.routing';
import { boundedText, PARAM_LIMITS } from './param.limits';

/**
 * The queryDef a method is called on. Campaign reads its attributes, not its root's name: the SDK itself sends
 * `<root schema=… xtkschema="xtk:queryDef">` (getSchema of a `temp:group:…` list schema converts a SimpleJson
 * queryDef under that name). A root of another name is taken when it has a `schema` attribute and does not claim
 * another schema in xtkschema; it travels on as `<queryDef>`.
 */
export function asQueryDef(doc: XmlElement, method: string): XmlElement {
  if (doc.local === 'queryDef') return doc;
  const declared = attrLocal(doc, 'xtkschema');
  if ((declared !== undefined && declared !== 'xtk:queryDef') || !attrLocal(doc, 'schema'))
    throw SOAP_FAULTS.badParameter(method, 'document', 'expected a <queryDef> document');
  return { ...doc, name: 'queryDef', local: 'queryDef', prefix: '' };
}

/**
 * xtk:queryDef: ExecuteQuery runs where the queried schema's table lives (local-store for local,
 * replicated and staging schemas; cloud-executor for cloud schemas); BuildQuery returns the SQL (with
 * placeholders), BuildQueryEx the SQL with its values written in and its columns' format (admins only: they reveal
 * the physical model); SelectAll rewrites the queryDef to select every field. xtk:srcSchema, xtk:schema and xtk:entity
 * have no table: the gateway answers them from its schema catalog (schema-entities.ts), to any operator, as it
 * answers GetEntityIfMoreRecent.
 */
export function createQuerySoapMethods(deps: {
  schemas: ReadonlyMap<string, Schema>;
  downstreams: Downstreams;
  schemaEntities?: SchemaEntityQueries;
}): SoapMethodTable {
  const queryDefOf = (ctx: CallContext): XmlElement => {
    let queryDef = ctx.decoded.entity;
    // `create({queryDef: {...}})` wraps the definition once more: accept both forms.
    if (queryDef && !attrLocal(queryDef, 'schema') && queryDef.children.length === 1 && queryDef.children[0]!.local === 'queryDef')
      queryDef = queryDef.children[0]!;
    if (!queryDef) throw SOAP_FAULTS.badParameter(ctx.method.name, 'document', 'expected a <queryDef> document');
    return asQueryDef(queryDef, ctx.method.name);
  };
  /** xtk:srcSchema, xtk:schema or xtk:entity: answered by the gateway itself. */
  const catalogSchema = (queryDef: XmlElement) => deps.schemaEntities?.schemaOf(attrLocal(queryDef, 'schema') ?? '');
  const target = (ctx: CallContext, queryDef = queryDefOf(ctx)): { queryDef: XmlElement; schema: Schema } => {
    const id = attrLocal(queryDef, 'schema');
    const schema = id ? deps.schemas.get(id) : undefined;
    if (catalogSchema(queryDef))
      throw SoapFault.of(ErrorCatalogue.QUERY_INVALID, {
        detail: `'${id}' has no table: it is answered from the schema catalog, by ExecuteQuery and SelectAll only`,
      });
    if (!schema) throw SoapFault.of(ErrorCatalogue.QUERY_INVALID, { detail: `Unknown schema '${id ?? ''}' in queryDef` });
    return { queryDef, schema };
  };

  // The SQL of the query: with placeholders (`sql`) and with its values written in as literals (`runnableSql`), and
  // the format of its columns.
  const buildQuery = async (ctx: CallContext): Promise<{ sql: string; runnableSql?: string; format?: string }> => {
    const { queryDef, schema } = target(ctx);
    return deps.downstreams.call<{ sql: string; runnableSql?: string; format?: string }>(serviceFor(schema), 'data.query', {
      queryDef: boundedText(ctx, 'queryDef', serializeXml(queryDef, { plain: true }), PARAM_LIMITS.queryDefChars),
      action: 'sql',
    });
  };

  return {
    'xtk:queryDef#ExecuteQuery': {
      auth: 'operator',
      async handle(ctx) {
        const asked = queryDefOf(ctx);
        const entities = catalogSchema(asked);
        if (entities) {
          boundedText(ctx, 'queryDef', serializeXml(asked, { plain: true }), PARAM_LIMITS.queryDefChars);
          return [await deps.schemaEntities!.execute(asked, entities)];
        }
        const { queryDef, schema } = target(ctx, asked);
        // The result comes already serialised (`format: 'text'`): a 10,000-row page travels and is held as ~1.7 MB
        // of text, not as an element tree on both sides. A service that predates `format` answers with the tree.
        const result = await deps.downstreams.call<XmlElement | { xml: string }>(serviceFor(schema), 'data.query', {
          queryDef: boundedText(ctx, 'queryDef', serializeXml(queryDef, { plain: true }), PARAM_LIMITS.queryDefChars),
          format: 'text',
          // cloud-executor remembers where each operator's pages ended (keyset paging of the next page).
          ...(ctx.caller.kind === 'operator' ? { operatorId: ctx.caller.operator.id } : {}),
        });
        return [typeof (result as { xml?: unknown }).xml === 'string' ? rawXml((result as { xml: string }).xml) : (result as XmlElement)];
      },
    },
    'xtk:queryDef#BuildQuery': {
      auth: 'operator',
      right: 'admin',
      handle: async (ctx) => [(await buildQuery(ctx)).sql],
    },
    'xtk:queryDef#BuildQueryEx': {
      auth: 'operator',
      right: 'admin',
      async handle(ctx) {
        const { runnableSql, format } = await buildQuery(ctx);
        // A service from before BuildQueryEx answers with the statement only.
        if (typeof runnableSql !== 'string' || typeof format !== 'string')
          throw SOAP_FAULTS.methodFailed(ctx.call.urn, ctx.method.name, 'the query service did not return a runnable statement and its format');
        return [runnableSql, format];
      },
    },
    'xtk:queryDef#SelectAll': {
      auth: 'operator',
      async handle(ctx) {
        const asked = queryDefOf(ctx);
        const entities = catalogSchema(asked);
        if (entities) {
          const others = asked.children.filter((c) => c.local !== 'select');
          const nodes = entities.fields.map((f) => element('node', { expr: f.xpath }));
          return { outputs: [], entity: { ...asked, children: [element('select', {}, nodes), ...others] } };
        }
        const { queryDef, schema } = target(ctx, asked);
        const nodes = schema.fields.map((f) => element('node', { expr: f.isElement ? f.xpath : f.xpath.includes('/') ? `[${f.xpath}]` : f.xpath }));
        const others = queryDef.children.filter((c) => c.local !== 'select');
        return { outputs: [], entity: { ...queryDef, children: [element('select', {}, nodes), ...others] } };
      },
    },
  };
}
