import { randomBytes, randomUUID } from 'node:crypto';
import { SERVICES } from '@cap/contracts';
import type { Field, Schema } from '@cap/campaign-schema';
import { SOAP_FAULTS, SoapFault } from '@cap/campaign-soap';
import { element, parseXml, serializeXml, type XmlElement } from '@cap/campaign-xml';
import { ErrorCatalogue } from '@cap/platform-errors';
import type { Downstreams } from '../downstream.client';
import type { SchemaVersions } from '../schema-versions';
import type { ServerIdentity } from '../server.identity';
import { hasRight } from '../session/session.model';
import { CAMPAIGN_FAULTS } from '../soap/campaign.faults';
import type { CallContext, SoapMethodTable } from '../soap/soap-method';
import { serviceFor } from './data.routing';
import {
  clashCondition,
  clashingKeys,
  copiedFields,
  counterFields,
  DEFAULT_SEQUENCE,
  duplicateDocument,
  entityPk,
  fieldValue,
  missingCounterFields,
  modifiedEntitiesDocument,
  newIdsProblem,
  newInstanceDocument,
  renamedCandidates,
  selectExpr,
  xtkString,
} from './lifecycle.documents';
import { PARAM_LIMITS } from './param.limits';

/** How many counter values NewInstance or Duplicate take, at most, looking for one no record has (`DM42` written by hand). */
const COUNTER_ATTEMPTS = 5;

const isElement = (v: unknown): v is XmlElement => typeof v === 'object' && v !== null && 'local' in v;

/**
 * The life of an object before and around its Write: ids reserved ahead (xtk:session#GetNewIds, GetNewIdsEx), a new
 * object with its id and defaults (xtk:persist#NewInstance), and which schemas changed for the SDK's cache refresher
 * (xtk:session#GetModifiedEntities). Ids come from the local database's sequences (local-store `sequence.reserve`).
 */
export function createLifecycleSoapMethods(deps: { downstreams: Downstreams; identity: ServerIdentity; schemaVersions: SchemaVersions }): SoapMethodTable {
  const reserve = async (params: { count: number; sequence?: string; schema?: string }): Promise<string[]> =>
    (await deps.downstreams.call<{ ids: string[] }>(SERVICES.localStore, 'sequence.reserve', params)).ids;

  /** The new primary key of a record of `schema`: its table's own sequence, or a new UUID. */
  const newId = async (schema: Schema): Promise<string> =>
    schema.primaryKey?.kind === 'uuid' ? randomUUID() : (await reserve({ count: 1, schema: schema.id }))[0]!;

  /** Runs a queryDef where the schema's rows live (as ExecuteQuery does) and answers its result element. */
  const query = async (schema: Schema, queryDef: XmlElement): Promise<XmlElement> => {
    const result = await deps.downstreams.call<XmlElement | { xml: string }>(serviceFor(schema), 'data.query', {
      queryDef: serializeXml(queryDef, { plain: true }),
    });
    return typeof (result as { xml?: unknown }).xml === 'string' ? parseXml((result as { xml: string }).xml) : (result as XmlElement);
  };

  /** Which of `values` some record of `schema` matching `where` already has in `field` (one query, whatever their number). */
  const taken = async (schema: Schema, field: Field, values: readonly string[], where: string): Promise<Set<string>> => {
    const rows = await query(
      schema,
      element('queryDef', { schema: schema.id, operation: 'select', lineCount: String(values.length + 1) }, [
        element('select', {}, [element('node', { expr: selectExpr(field) })]),
        element('where', {}, [element('condition', { expr: where })]),
      ]),
    );
    return new Set(rows.children.map((r) => fieldValue(r, field)).filter((v): v is string => v !== undefined));
  };

  /**
   * The values of counter defaults (`'DM'+CounterValue('DeliveryId')` → `DM42`), one per field, each a counter value
   * no record has yet in that field: a value a record already has (written by hand) is skipped, as a new one is taken.
   */
  const counterValues = async (ctx: CallContext, fields: ReturnType<typeof counterFields>): Promise<Map<string, string>> => {
    const { schema } = ctx;
    const out = new Map<string, string>();
    for (const { field, prefix, counter } of fields) {
      for (let attempt = 1; !out.has(field.xpath); attempt++) {
        if (attempt > COUNTER_ATTEMPTS)
          throw SOAP_FAULTS.methodFailed(ctx.call.urn, ctx.method.name, `${COUNTER_ATTEMPTS} values of counter '${counter}' were all taken in ${field.xpath}`);
        const candidate = `${prefix}${(await reserve({ count: 1, sequence: counter }))[0]!}`;
        if (!(await taken(schema, field, [candidate], clashCondition(field, [candidate], [])!)).has(candidate)) out.set(field.xpath, candidate);
      }
    }
    return out;
  };

  /** A new value for each key the copy would share with the original: `webapp` → `webapp_1` (the first no record has). */
  const renames = async (schema: Schema, original: XmlElement): Promise<Map<string, string>> => {
    const out = new Map<string, string>();
    for (const { field, scope } of clashingKeys(schema)) {
      const value = fieldValue(original, field);
      if (value === undefined || value === '') continue;
      const candidates = renamedCandidates(value, field.length);
      const where = clashCondition(
        field,
        candidates,
        scope.map((f) => ({ field: f, value: fieldValue(original, f) })),
      );
      if (where === undefined) continue;
      const used = await taken(schema, field, candidates, where);
      const free = candidates.find((c) => !used.has(c)) ?? renamedCandidates(`${value}_${randomBytes(4).toString('hex')}`, field.length, 1)[0]!;
      out.set(field.xpath, free);
    }
    return out;
  };

  /** NewInstance and Duplicate need the rights a Write of the schema needs: no id is taken for a caller that could not write it. */
  const requireWriteRights = (ctx: CallContext, what: string): void => {
    if (ctx.caller.kind !== 'operator') return;
    const { operator } = ctx.caller;
    if (ctx.schema.writeRights.some((right) => !hasRight(operator, right))) throw CAMPAIGN_FAULTS.accessDenied(operator.login, what);
  };

  const newIds = (sequenceParam: string | undefined) => async (ctx: CallContext) => {
    const count = ctx.decoded.values.get('count');
    const given = sequenceParam ? ctx.decoded.values.get(sequenceParam) : undefined;
    const sequence = typeof given === 'string' && given.trim() !== '' ? given.trim() : DEFAULT_SEQUENCE;
    if (sequence.length > PARAM_LIMITS.schemaNameChars)
      throw SOAP_FAULTS.badParameter(ctx.method.name, 'sequence', `longer than ${PARAM_LIMITS.schemaNameChars} characters`);
    const problem = newIdsProblem(count, sequence);
    if (problem) throw SOAP_FAULTS.badParameter(ctx.method.name, problem.param, problem.why);
    return [(await reserve({ count: count as number, sequence })).join(',')];
  };

  return {
    'xtk:session#GetNewIds': { auth: 'operator', handle: newIds(undefined) },
    'xtk:session#GetNewIdsEx': { auth: 'operator', handle: newIds('sequence') },
    'xtk:session#GetModifiedEntities': {
      auth: 'operator',
      async handle(ctx) {
        const request = ctx.decoded.values.get('cacheEntities');
        if (!isElement(request)) throw SOAP_FAULTS.badParameter(ctx.method.name, 'cacheEntities', 'expected a <cache> document');
        const answer = modifiedEntitiesDocument({
          request,
          buildNumber: deps.identity.buildNumber,
          now: Date.now(),
          schemas: await deps.schemaVersions.all(),
        });
        if ('bad' in answer) throw SOAP_FAULTS.badParameter(ctx.method.name, 'cacheEntities', answer.bad);
        return [answer];
      },
    },
    'persist#NewInstance': {
      auth: 'operator',
      async handle(ctx) {
        const { schema } = ctx;
        if (!schema.persistent || !schema.primaryKey)
          throw SoapFault.of(ErrorCatalogue.UNKNOWN_SCHEMA, { detail: `Schema '${schema.id}' has no records to create` });
        requireWriteRights(ctx, `create ${schema.id} records`);
        const id = await newId(schema);
        // A key Campaign generates (nms:delivery's @internalName DM<n>): the Write of the object needs it.
        const generated = await counterValues(ctx, missingCounterFields(schema, ctx.decoded.entity));
        return { outputs: [], entity: newInstanceDocument(schema, ctx.decoded.entity, id, generated) };
      },
    },
    'persist#Duplicate': {
      auth: 'operator',
      async handle(ctx) {
        const { schema } = ctx;
        const pk = schema.primaryKey;
        if (!schema.persistent || !pk) throw SoapFault.of(ErrorCatalogue.UNKNOWN_SCHEMA, { detail: `Schema '${schema.id}' has no records to duplicate` });
        // The copy is only of use to a caller that may write it: a non-administrator is refused on xtk:operator before
        // anything is read or taken, so Duplicate never prepares an operator (rights included) it could not create.
        requireWriteRights(ctx, `duplicate ${schema.id} records`);
        const key = entityPk(schema, ctx.decoded.values.get('pk'));
        if ('bad' in key) throw SOAP_FAULTS.badParameter(ctx.method.name, 'pk', key.bad);
        // One query reads the original (NO_RECORD when there is none): one consistent version of it, nothing written.
        const original = await query(
          schema,
          element('queryDef', { schema: schema.id, operation: 'get' }, [
            element('select', {}, [element('node', { expr: pk.xpath }), ...copiedFields(schema).map((f) => element('node', { expr: selectExpr(f) }))]),
            element('where', {}, [element('condition', { expr: `${pk.xpath} = ${pk.kind === 'uuid' ? xtkString(key.value) : key.value}` })]),
          ]),
        );
        const renamed = await renames(schema, original);
        const generated = await counterValues(
          ctx,
          counterFields(schema).filter((c) => c.field.defOnDuplicate),
        );
        const id = await newId(schema);
        return { outputs: [], entity: duplicateDocument(schema, original, id, generated, renamed) };
      },
    },
  };
}
