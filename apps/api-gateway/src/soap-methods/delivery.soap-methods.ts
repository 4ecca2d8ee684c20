import { SERVICES } from '@cap/contracts';
import { SOAP_FAULTS } from '@cap/campaign-soap';
import { serializeXml, type XmlElement } from '@cap/campaign-xml';
import type { Downstreams } from '../downstream.client';
import type { CallContext, SoapMethodTable } from '../soap/soap-method';
import { boundedText, PARAM_LIMITS } from './param.limits';

/**
 * nms:delivery#SubmitDelivery(scenarioName, content): creates and starts a delivery from the template named
 * `scenarioName` merged with the `content` fragment. cloud-executor records the delivery and replies; the
 * targeting and sending run there in the background. Returns nothing, as Campaign's. Operators need the
 * `delivery` right (admins have every right).
 */
export function createDeliverySoapMethods(deps: { downstreams: Downstreams }): SoapMethodTable {
  return {
    'nms:delivery#SubmitDelivery': {
      auth: 'operator',
      right: 'delivery',
      async handle(ctx: CallContext) {
        const raw = ctx.decoded.values.get('scenarioName');
        const scenarioName = typeof raw === 'string' ? raw.trim() : '';
        if (scenarioName === '') throw SOAP_FAULTS.badParameter(ctx.method.name, 'scenarioName', 'give the internal name of a delivery template');
        const content = ctx.decoded.values.get('content') as XmlElement | undefined;
        if (content !== undefined && (typeof content !== 'object' || !('local' in content)))
          throw SOAP_FAULTS.badParameter(ctx.method.name, 'content', 'expected a <delivery> element');
        boundedText(ctx, 'scenarioName', scenarioName, PARAM_LIMITS.scenarioNameChars);
        const contentXml = content ? boundedText(ctx, 'content', serializeXml(content, { plain: true }), PARAM_LIMITS.deliveryContentChars) : undefined;
        await deps.downstreams.call(SERVICES.cloudExecutor, 'delivery.submit', { scenarioName, ...(contentXml !== undefined ? { content: contentXml } : {}) });
        return [];
      },
    },
  };
}
