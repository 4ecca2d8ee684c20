import { SERVICES } from '@cap/contracts';
import { SOAP_FAULTS } from '@cap/campaign-soap';
import { element, serializeXml, type XmlElement } from '@cap/campaign-xml';
import type { DownstreamName, Downstreams } from '../downstream.client';
import type { CallContext, SoapMethodTable } from '../soap/soap-method';
import { boundedText, PARAM_LIMITS } from './param.limits';

const isElement = (v: unknown): v is XmlElement => typeof v === 'object' && v !== null && 'local' in v;

export interface QuarantineCount {
  database: 'local' | 'cloud';
  consumer: string;
  state: string;
  count: number;
}

/** The quarantine counts of both databases (a service that does not answer contributes none). */
export async function readQuarantineCounts(downstreams: Downstreams): Promise<QuarantineCount[]> {
  const read = async (database: 'local' | 'cloud', service: DownstreamName) => {
    const { counts } = await downstreams.call<{ counts: { consumer: string; state: string; count: number }[] }>(service, 'quarantine.counts', {});
    return counts.map((c) => ({ database, ...c }));
  };
  const results = await Promise.allSettled([read('local', SERVICES.localStore), read('cloud', SERVICES.cloudExecutor)]);
  return results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
}

/**
 * The staged business APIs: nms:subscription#Subscribe / Unsubscribe (stored by local-store, applied in the
 * cloud DB by staging-sync) and nms:replicationStrategy#StartReplicateStagingData (flush a staged schema now).
 */
export function createStagingSoapMethods(deps: { downstreams: Downstreams }): SoapMethodTable {
  const change = (action: 'subscribe' | 'unsubscribe') => async (ctx: CallContext) => {
    const serviceName = ctx.decoded.values.get('serviceName');
    const recipient = ctx.decoded.values.get('recipient');
    if (!isElement(recipient)) throw SOAP_FAULTS.badParameter(ctx.method.name, 'recipient', 'the recipient element is missing');
    const create = action === 'subscribe' ? ctx.decoded.values.get('create') === true : false;
    await deps.downstreams.call(SERVICES.localStore, 'subscription.change', {
      action,
      services: boundedText(ctx, 'serviceName', typeof serviceName === 'string' ? serviceName : '', PARAM_LIMITS.serviceNamesChars),
      recipient: boundedText(ctx, 'recipient', serializeXml(recipient, { plain: true }), PARAM_LIMITS.recipientChars),
      create,
      ...(ctx.caller.kind === 'operator' ? { operatorId: ctx.caller.operator.id } : {}),
    });
    return [];
  };
  return {
    'nms:subscription#Subscribe': { auth: 'operator', handle: change('subscribe') },
    'nms:subscription#Unsubscribe': { auth: 'operator', handle: change('unsubscribe') },
    'nms:replicationStrategy#StartReplicateStagingData': {
      auth: 'operator',
      async handle(ctx) {
        const schema = ctx.decoded.values.get('schema');
        if (typeof schema !== 'string' || schema.trim() === '')
          throw SOAP_FAULTS.badParameter(ctx.method.name, 'schema', 'expected a schema name such as nms:recipient');
        await deps.downstreams.call(SERVICES.localStore, 'staging.flush', { schema: boundedText(ctx, 'schema', schema.trim(), PARAM_LIMITS.schemaNameChars) });
        return [];
      },
    },
    'nms:replicationStrategy#GetStagingStatus': {
      auth: 'operator',
      async handle(ctx) {
        const schema = ctx.decoded.values.get('schema');
        const { sources } = await deps.downstreams.call<{ sources: Record<string, string | number | null>[] }>(
          SERVICES.localStore,
          'staging.status',
          typeof schema === 'string' && schema.trim() ? { schema: boundedText(ctx, 'schema', schema.trim(), PARAM_LIMITS.schemaNameChars) } : {},
        );
        const attrs = (s: Record<string, string | number | null>) =>
          Object.fromEntries(
            Object.entries(s)
              .filter(([, v]) => v !== null)
              .map(([k, v]) => [k, String(v)]),
          );
        // What the consumers set aside, in both databases: one <quarantine database consumer state count/> each.
        const quarantine = await readQuarantineCounts(deps.downstreams);
        return [
          element('stagingStatus', {}, [...sources.map((s) => element('source', attrs(s))), ...quarantine.map((q) => element('quarantine', attrs({ ...q })))]),
        ];
      },
    },
  };
}
