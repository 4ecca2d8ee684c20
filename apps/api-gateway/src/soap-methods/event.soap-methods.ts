import { SERVICES } from '@cap/contracts';
import { SOAP_FAULTS, SoapFault } from '@cap/campaign-soap';
import { attrLocal, element, serializeXml, type XmlElement } from '@cap/campaign-xml';
import { ErrorCatalogue } from '@cap/platform-errors';
import type { Downstreams } from '../downstream.client';
import type { CallContext, SoapMethodTable } from '../soap/soap-method';
import { boundedText, PARAM_LIMITS } from './param.limits';

/**
 * A PushEvent document as its queue stores it. Campaign does not read the name of the document's root: the SDK
 * names it after the parameter (`<domEvent>`) for a plain object without xtkschema (every nms:batchEvent event),
 * `<rtEvent>` for nms:rtEvent, or after its xtkschema. So the root takes the queue's name, unless it names
 * another schema in xtkschema (refused: an event is never written anywhere else).
 */
export function asQueueEvent(doc: XmlElement, queue: 'rtEvent' | 'batchEvent', method: string): XmlElement {
  const declared = attrLocal(doc, 'xtkschema');
  if (declared !== undefined && declared !== `nms:${queue}`)
    throw SoapFault.of(ErrorCatalogue.UNKNOWN_SCHEMA, {
      detail: `The event names the schema '${declared.slice(0, 128)}'; nms:${queue}#${method} takes nms:${queue} events`,
    });
  return doc.local === queue ? doc : { ...doc, name: queue, local: queue, prefix: '' };
}

/**
 * Message Center: nms:rtEvent and nms:batchEvent PushEvent / PushEvents. Events are stored by local-store
 * (its event queue) and their ids returned; operators need the messageCenter right (admins have it).
 */
export function createEventSoapMethods(deps: { downstreams: Downstreams }): SoapMethodTable {
  const push = (queue: 'rtEvent' | 'batchEvent', many: boolean) => async (ctx: CallContext) => {
    const param = many ? 'domEventCollection' : 'domEvent';
    const doc = ctx.decoded.values.get(param) as XmlElement | undefined;
    if (!doc || typeof doc !== 'object' || !('local' in doc)) throw SOAP_FAULTS.badParameter(ctx.method.name, param, 'the event document is missing');
    const events = many ? doc.children : [asQueueEvent(doc, queue, ctx.method.name)];
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
