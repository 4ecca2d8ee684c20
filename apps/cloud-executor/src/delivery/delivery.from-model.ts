import { z } from 'zod';
import { compileDeliveryTarget, DeliveryState, isDeliveryError } from '@cap/campaign-delivery';
import { element, parseXml, serializeXml, XmlParseError, type XmlElement } from '@cap/campaign-xml';
import { appError, appErrorOf, ErrorCatalogue, errors } from '@cap/platform-errors';
import { deliveryTemplateFields, loadDeliveryDefinition, newDeliveryActionName, type DeliveryJobDeps } from './delivery.submit';

const fromModelParams = z.object({
  scenarioName: z.string().trim().min(1).max(64),
  content: z
    .string()
    .max(8 * 1024 * 1024)
    .optional(),
});

/**
 * `delivery.fromModel` (nms:delivery#CreateFromModel(scenarioName, content)): the template found by internal name,
 * merged with the content fragment and checked as SubmitDelivery checks it (its target included), returned as a
 * new delivery document — `@isModel` false, `@state` 0 (being edited), `@deliveryCode` the template, a fresh
 * `@internalName` (`DM<n>`) — without recording anything. The caller writes it (xtk:session#Write) and starts it
 * with nms:delivery#ExecCommand(id, 'play') or Play(id) (delivery.command.ts).
 */
export function createFromModelHandler(deps: DeliveryJobDeps) {
  const { known } = deliveryTemplateFields(deps.schemas);
  return async (params: unknown): Promise<{ delivery: string }> => {
    const p = fromModelParams.safeParse(params);
    if (!p.success) throw errors.invalidRequest('delivery.fromModel parameters', p.error.issues[0]?.message ?? 'rejected');
    try {
      let fragment: XmlElement | undefined;
      if (p.data.content) {
        try {
          fragment = parseXml(p.data.content);
        } catch (err) {
          throw appError(ErrorCatalogue.SOAP_MALFORMED, { what: 'CreateFromModel content', why: err instanceof XmlParseError ? err.message : 'unreadable' });
        }
      }
      const d = await loadDeliveryDefinition(deps, known, p.data.scenarioName, fragment);
      compileDeliveryTarget(d.targets, deps.schemas);
      const { internalName } = await newDeliveryActionName(deps.pool);
      const doc = element(
        'delivery',
        {
          xtkschema: 'nms:delivery',
          internalName,
          label: d.label,
          isModel: 'false',
          messageType: String(d.messageType),
          routing: d.routing,
          deliveryCode: p.data.scenarioName,
          state: String(DeliveryState.edition),
        },
        [
          element('mailParameters', { subject: d.subject, senderAddress: d.senderAddress }),
          element('content', {}, [], d.content),
          ...(d.targets ? [element('targets', {}, [], d.targets)] : []),
        ],
      );
      return { delivery: serializeXml(doc, { plain: true }) };
    } catch (err) {
      if (isDeliveryError(err)) throw appErrorOf(err);
      throw err;
    }
  };
}
