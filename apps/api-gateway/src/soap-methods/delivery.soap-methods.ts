import { SERVICES } from '@cap/contracts';
import { parseDeliveryCommand } from '@cap/campaign-delivery';
import { rawXml, SOAP_FAULTS } from '@cap/campaign-soap';
import { serializeXml, type XmlElement } from '@cap/campaign-xml';
import type { Downstreams } from '../downstream.client';
import type { CallContext, SoapMethodTable } from '../soap/soap-method';
import { createJobSoapMethods } from './job.soap-methods';
import { boundedText, PARAM_LIMITS } from './param.limits';

/** The template name and content fragment of SubmitDelivery and CreateFromModel, checked and bounded. */
function templateCall(ctx: CallContext): { scenarioName: string; contentXml: string | undefined } {
  const raw = ctx.decoded.values.get('scenarioName');
  const scenarioName = typeof raw === 'string' ? raw.trim() : '';
  if (scenarioName === '') throw SOAP_FAULTS.badParameter(ctx.method.name, 'scenarioName', 'give the internal name of a delivery template');
  const content = ctx.decoded.values.get('content') as XmlElement | undefined;
  if (content !== undefined && (typeof content !== 'object' || !('local' in content)))
    throw SOAP_FAULTS.badParameter(ctx.method.name, 'content', 'expected a <delivery> element');
  boundedText(ctx, 'scenarioName', scenarioName, PARAM_LIMITS.scenarioNameChars);
  const contentXml = content ? boundedText(ctx, 'content', serializeXml(content, { plain: true }), PARAM_LIMITS.deliveryContentChars) : undefined;
  return { scenarioName, contentXml };
}

/**
 * nms:delivery#SubmitDelivery(scenarioName, content): creates and starts a delivery from the template named
 * `scenarioName` merged with the `content` fragment. cloud-executor records the delivery and replies; the
 * targeting and sending run there in the background. Returns nothing, as Campaign's. Operators need the
 * `delivery` right (admins have every right).
 *
 * CreateFromModel, ExecCommand, Play, Pause and Stop: docs/deliveries.md. Every method needs the `delivery` right.
 */
export function createDeliverySoapMethods(deps: { downstreams: Downstreams }): SoapMethodTable {
  /** Sends a command to the delivery action named by `deliveryId`; returns its nms:delivery @state afterwards. */
  const command = async (ctx: CallContext, name: string): Promise<number> => {
    const raw = ctx.decoded.values.get('deliveryId');
    const deliveryId = typeof raw === 'string' ? raw.trim() : typeof raw === 'number' ? String(raw) : '';
    if (deliveryId === '') throw SOAP_FAULTS.badParameter(ctx.method.name, 'deliveryId', 'give the id of a delivery action');
    boundedText(ctx, 'deliveryId', deliveryId, PARAM_LIMITS.deliveryIdChars);
    const result = await deps.downstreams.call<{ state: number }>(SERVICES.cloudExecutor, 'delivery.command', { deliveryId, command: name });
    return result.state;
  };
  const commandMethod = (name: 'play' | 'pause' | 'stop') => ({
    auth: 'operator' as const,
    right: 'delivery',
    async handle(ctx: CallContext) {
      await command(ctx, name);
      return [];
    },
  });
  return {
    // Background jobs (xtk:jobInterface, xtk:job) run deliveries' Start: job.soap-methods.ts.
    ...createJobSoapMethods(deps),
    /**
     * nms:delivery#ExecCommand(deliveryId, command) → newState: 'play' (also 'start', 'resume'), 'pause' or 'stop'
     * on a delivery action (docs/deliveries.md#pausing-resuming-and-stopping-a-delivery). Play, Pause and Stop are the
     * same commands as methods of their own.
     */
    'nms:delivery#ExecCommand': {
      auth: 'operator',
      right: 'delivery',
      async handle(ctx: CallContext) {
        const raw = ctx.decoded.values.get('command');
        const parsed = typeof raw === 'string' ? parseDeliveryCommand(raw) : undefined;
        if (!parsed) throw SOAP_FAULTS.badParameter(ctx.method.name, 'command', "expected 'play', 'pause' or 'stop'");
        return [await command(ctx, parsed)];
      },
    },
    /**
     * nms:delivery#CreateFromModel(scenarioName, content) → delivery: a new delivery document from the template
     * merged with the fragment, checked as SubmitDelivery checks it, nothing recorded; write it, then Play its id.
     */
    'nms:delivery#CreateFromModel': {
      auth: 'operator',
      right: 'delivery',
      async handle(ctx: CallContext) {
        const { scenarioName, contentXml } = templateCall(ctx);
        const result = await deps.downstreams.call<{ delivery: string }>(SERVICES.cloudExecutor, 'delivery.fromModel', {
          scenarioName,
          ...(contentXml !== undefined ? { content: contentXml } : {}),
        });
        return [rawXml(result.delivery)];
      },
    },
    /**
     * Message templates are used by cloud-executor as soon as they are replicated to the execution database: there
     * is nothing to publish. DeployTriggerMessages(deliveries, localPublish) checks its filter and returns;
     * DeployTriggerMessageSingle(deliveryId, localPublish) answers whether that message template is live.
     */
    'nms:delivery#DeployTriggerMessages': {
      auth: 'operator',
      right: 'delivery',
      async handle(ctx: CallContext) {
        const where = ctx.decoded.values.get('deliveries');
        if (where !== undefined && (typeof where !== 'object' || !('local' in where)))
          throw SOAP_FAULTS.badParameter(ctx.method.name, 'deliveries', 'expected a <where> element');
        return [];
      },
    },
    'nms:delivery#DeployTriggerMessageSingle': {
      auth: 'operator',
      right: 'delivery',
      async handle(ctx: CallContext) {
        const raw = ctx.decoded.values.get('deliveryId');
        const deliveryId = typeof raw === 'string' ? raw.trim() : '';
        if (!/^\d{1,18}$/.test(deliveryId)) throw SOAP_FAULTS.badParameter(ctx.method.name, 'deliveryId', 'give the id of a message template');
        const result = await deps.downstreams.call<{ live: boolean }>(SERVICES.cloudExecutor, 'delivery.messageTemplateLive', { deliveryId });
        return [result.live];
      },
    },
    /**
     * nms:delivery#GetFilesToDownload(deliveryId) → [filesToDownload, filesNotToDownload]: the files an execution
     * instance must fetch for a delivery. Deliveries here have no attached files and no mid-sourcing, so both
     * documents are empty; an unknown delivery answers DELIVERY_UNKNOWN (docs/deliveries.md).
     */
    'nms:delivery#GetFilesToDownload': {
      auth: 'operator',
      right: 'delivery',
      async handle(ctx: CallContext) {
        const raw = ctx.decoded.values.get('deliveryId');
        const deliveryId = typeof raw === 'string' ? raw.trim() : typeof raw === 'number' && Number.isSafeInteger(raw) ? String(raw) : '';
        if (deliveryId === '') throw SOAP_FAULTS.badParameter(ctx.method.name, 'deliveryId', 'give the id of a delivery action');
        boundedText(ctx, 'deliveryId', deliveryId, PARAM_LIMITS.deliveryIdChars);
        const result = await deps.downstreams.call<{ filesToDownload: string; filesNotToDownload: string }>(
          SERVICES.cloudExecutor,
          'delivery.filesToDownload',
          {
            deliveryId,
          },
        );
        return [rawXml(result.filesToDownload), rawXml(result.filesNotToDownload)];
      },
    },
    'nms:delivery#Play': commandMethod('play'),
    'nms:delivery#Pause': commandMethod('pause'),
    'nms:delivery#Stop': commandMethod('stop'),
    'nms:delivery#SubmitDelivery': {
      auth: 'operator',
      right: 'delivery',
      async handle(ctx: CallContext) {
        const { scenarioName, contentXml } = templateCall(ctx);
        await deps.downstreams.call(SERVICES.cloudExecutor, 'delivery.submit', { scenarioName, ...(contentXml !== undefined ? { content: contentXml } : {}) });
        return [];
      },
    },
  };
}
