import { randomUUID } from 'node:crypto';
import { SERVICES } from '@cap/contracts';
import { SOAP_FAULTS, SoapFault } from '@cap/campaign-soap';
import type { XmlElement } from '@cap/campaign-xml';
import { ErrorCatalogue } from '@cap/platform-errors';
import type { Downstreams } from '../downstream.client';
import type { SchemaVersions } from '../schema-versions';
import type { ServerIdentity } from '../server.identity';
import { hasRight } from '../session/session.model';
import { CAMPAIGN_FAULTS } from '../soap/campaign.faults';
import type { CallContext, SoapMethodTable } from '../soap/soap-method';
import { DEFAULT_SEQUENCE, modifiedEntitiesDocument, newIdsProblem, newInstanceDocument } from './lifecycle.documents';
import { PARAM_LIMITS } from './param.limits';

const isElement = (v: unknown): v is XmlElement => typeof v === 'object' && v !== null && 'local' in v;

/**
 * The life of an object before and around its Write: ids reserved ahead (xtk:session#GetNewIds, GetNewIdsEx), a new
 * object with its id and defaults (xtk:persist#NewInstance), and which schemas changed for the SDK's cache refresher
 * (xtk:session#GetModifiedEntities). Ids come from the local database's sequences (local-store `sequence.reserve`).
 */
export function createLifecycleSoapMethods(deps: { downstreams: Downstreams; identity: ServerIdentity; schemaVersions: SchemaVersions }): SoapMethodTable {
  const reserve = async (params: { count: number; sequence?: string; schema?: string }): Promise<string[]> =>
    (await deps.downstreams.call<{ ids: string[] }>(SERVICES.localStore, 'sequence.reserve', params)).ids;

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
        const pk = schema.primaryKey;
        if (!schema.persistent || !pk) throw SoapFault.of(ErrorCatalogue.UNKNOWN_SCHEMA, { detail: `Schema '${schema.id}' has no records to create` });
        // The rights a Write of the new object will need: no id is taken for a caller that could not write it.
        if (ctx.caller.kind === 'operator') {
          const { operator } = ctx.caller;
          const missing = schema.writeRights.find((right) => !hasRight(operator, right));
          if (missing) throw CAMPAIGN_FAULTS.accessDenied(operator.login, `create ${schema.id} records`);
        }
        const id = pk.kind === 'uuid' ? randomUUID() : (await reserve({ count: 1, schema: schema.id }))[0]!;
        const entity = newInstanceDocument(schema, ctx.decoded.entity, id);
        return { outputs: [], entity };
      },
    },
  };
}
