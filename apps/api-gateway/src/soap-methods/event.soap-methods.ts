import { SERVICES } from '@cap/contracts';
import { SOAP_FAULTS } from '@cap/campaign-soap';
import { element, serializeXml, type XmlElement } from '@cap/campaign-xml';
import type { Downstreams } from '../downstream.client';
import type { CallContext, SoapMethodTable } from '../soap/soap-method';
import { boundedText, PARAM_LIMITS } from './param.limits';

/**
 * Message Center: nms:rtEvent and nms:batchEvent PushEvent / PushEvents. Events are stored by local-store
 * (its event queue) and their ids returned; operators need the messageCenter right (admins have it).
 */
export function createEventSoapMethods(deps: { downstreams: Downstreams }): SoapMethodTable {
  const push = (queue: 'rtEvent' | 'batchEvent', many: boolean) => async (ctx: CallContext) => {
    const param = many ? 'domEventCollection' : 'domEvent';
    const doc = ctx.decoded.values.get(param) as XmlElement | undefined;
    if (!doc || typeof doc !== 'object' || !('local' in doc)) throw SOAP_FAULTS.badParameter(ctx.method.name, param, 'the event document is missing');
    const events = many ? doc.children : [doc];
    if (events.length === 0) throw SOAP_FAULTS.badParameter(ctx.method.name, param, 'no events in the collection');
    if (events.length > PARAM_LIMITS.eventsPerCall) throw SOAP_FAULTS.badParameter(ctx.method.name, param, `more than ${PARAM_LIMITS.eventsPerCall} events`);
    const { ids } = await deps.downstreams.call<{ ids: string[] }>(SERVICES.localStore, 'event.push', {
      queue,
      events: events.map((e) => boundedText(ctx, param, serializeXml(e, { plain: true }), PARAM_LIMITS.eventChars)),
    });
    return many
      ? [
          element(
            'idList',
            {},
            ids.map((id) => element(queue, { id })),
          ),
        ]
      : [ids[0]];
  };
  return {
    'nms:rtEvent#PushEvent': { auth: 'operator', right: 'messageCenter', handle: push('rtEvent', false) },
    'nms:rtEvent#PushEvents': { auth: 'operator', right: 'messageCenter', handle: push('rtEvent', true) },
    'nms:batchEvent#PushEvent': { auth: 'operator', right: 'messageCenter', handle: push('batchEvent', false) },
    'nms:batchEvent#PushEvents': { auth: 'operator', right: 'messageCenter', handle: push('batchEvent', true) },
  };
}
