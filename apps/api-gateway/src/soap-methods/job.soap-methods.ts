import { SERVICES } from '@cap/contracts';
import { rawXml, SOAP_FAULTS } from '@cap/campaign-soap';
import { attrLocal, type XmlElement } from '@cap/campaign-xml';
import type { Downstreams } from '../downstream.client';
import { isAdmin } from '../session/session.model';
import type { CallContext, SoapMethodTable } from '../soap/soap-method';

/** Who calls: the job store keeps jobs per operator (admins see every job). */
function owner(ctx: CallContext): { operatorId: string; admin: boolean } {
  if (ctx.caller.kind !== 'operator') throw SOAP_FAULTS.badParameter(ctx.method.name, 'id', 'an operator session is needed');
  return { operatorId: ctx.caller.operator.id, admin: isAdmin(ctx.caller.operator) };
}

function jobId(ctx: CallContext): string {
  const raw = ctx.decoded.values.get('id');
  const id = typeof raw === 'string' ? raw.trim() : '';
  if (id === '' || id.length > 64) throw SOAP_FAULTS.badParameter(ctx.method.name, 'id', 'give the id Submit returned');
  return id;
}

/**
 * Background jobs as Adobe's SDK runs them (`client.jobInterface({ xtkschema, method, object }).submit()`, then
 * `getStatus()`, `getResult()`, `cancel()`, `pause()`): Submit, Execute and SubmitSoapCall arrive on the
 * `xtk:jobInterface|<entity schema>` URN with the entity (the object the method runs on) and are declared on
 * xtk:job (libs/campaign/schema/builtin/xtk-job.xml); cloud-executor runs them (delivery.jobs.ts). Submitting
 * needs the `delivery` right; reading or controlling a job needs to be its operator or an admin.
 */
export function createJobSoapMethods(deps: { downstreams: Downstreams }): SoapMethodTable {
  const submit = (methodOf: (ctx: CallContext) => string) => ({
    auth: 'operator' as const,
    right: 'delivery',
    async handle(ctx: CallContext) {
      const method = methodOf(ctx).trim();
      if (method === '' || method.length > 128) throw SOAP_FAULTS.badParameter(ctx.method.name, 'methodName', 'give the method the job runs');
      const objectId = (ctx.decoded.entity ? attrLocal(ctx.decoded.entity, 'id') : undefined)?.trim() ?? '';
      if (objectId === '' || objectId.length > 40)
        throw SOAP_FAULTS.badParameter(ctx.method.name, 'document', `the ${ctx.schema.id} the job runs on needs its @id (select it, e.g. with SelectAll)`);
      const { jobId: id } = await deps.downstreams.call<{ jobId: string }>(SERVICES.cloudExecutor, 'job.submit', {
        ...owner(ctx),
        schema: ctx.schema.id,
        method,
        objectId,
      });
      return [id];
    },
  });
  const byName = (ctx: CallContext) => {
    const v = ctx.decoded.values.get('methodName');
    return typeof v === 'string' ? v : '';
  };
  const control = (command: 'pause' | 'stop') => ({
    auth: 'operator' as const,
    async handle(ctx: CallContext) {
      await deps.downstreams.call(SERVICES.cloudExecutor, 'job.control', { ...owner(ctx), jobId: jobId(ctx), command });
      return [];
    },
  });
  return {
    'xtk:jobInterface#Submit': submit(byName),
    'xtk:jobInterface#Execute': submit(byName),
    'xtk:jobInterface#SubmitSoapCall': submit((ctx) => {
      const call = ctx.decoded.values.get('soapCall') as XmlElement | undefined;
      return call && typeof call === 'object' && 'local' in call ? (attrLocal(call, 'name') ?? '') : '';
    }),
    'xtk:job#GetStatus': {
      auth: 'operator',
      async handle(ctx) {
        const num = (name: string, fallback: number, max: number) => {
          const v = ctx.decoded.values.get(name);
          return typeof v === 'number' && v >= 0 ? Math.min(v, max) : fallback;
        };
        const status = await deps.downstreams.call<{ status: number; logs: string; properties: string }>(SERVICES.cloudExecutor, 'job.status', {
          ...owner(ctx),
          jobId: jobId(ctx),
          lastLogId: num('lastLogId', 0, Number.MAX_SAFE_INTEGER),
          maxLogCount: Math.max(1, num('maxLogCount', 100, 1000)),
        });
        return [status.status, rawXml(status.logs), rawXml(status.properties)];
      },
    },
    'xtk:job#GetResult': {
      auth: 'operator',
      async handle(ctx) {
        const { result } = await deps.downstreams.call<{ result: string }>(SERVICES.cloudExecutor, 'job.result', { ...owner(ctx), jobId: jobId(ctx) });
        return [result];
      },
    },
    'xtk:job#Cancel': control('stop'),
    'xtk:job#Pause': control('pause'),
  };
}
