import {
  BroadLogStatus,
  eventCtxData,
  FailureReason,
  isDeliveryError,
  prepareDelivery,
  renderDeliveryMessage,
  type PreparedDelivery,
} from '@cap/campaign-delivery';
import type { MessageCenterEvent, MessageCenterStatus } from '@cap/contracts';
import type { OutboundMessage } from '@cap/platform-channel';
import { ErrorCatalogue } from '@cap/platform-errors';
import type { Pool } from '@cap/platform-postgres';
import type { ChannelRegistry } from '../channels/channel.registry';
import { FAILURE_OF_KIND } from '../delivery/delivery.runner';
import { TEMPLATE_COLUMNS, templateDefinition, type TemplateRow } from '../delivery/delivery.submit';

/** An event to process and how many times sending it was already tried. */
export interface PendingEvent {
  event: MessageCenterEvent;
  attempts: number;
  /** When the message center first saw it (for the status message). */
  firstSeenAt: Date;
}

/** A final outcome: the log row to write and the status message to publish. */
export interface EventVerdict {
  pending: PendingEvent;
  status: MessageCenterStatus['status'];
  logStatus: number;
  reason: number;
  text?: string;
  deliveryId?: string;
  address: string | null;
  attempts: number;
  processedAt: Date;
}

/** An event whose sending failed for a temporary reason: tried again later. */
export interface EventRetry {
  pending: PendingEvent;
  attempts: number;
  error: string;
}

/** The fields of the event itself a template may use (`<%= event.email %>`, `<%= rtEvent.externalId %>`). */
const EVENT_FIELDS = new Set(['id', 'type', 'email', 'mobilePhone', 'externalId', 'language', 'country', 'wishedChannel', 'created']);
const KNOWN = { fields: { event: EVENT_FIELDS }, freeRoots: ['ctx'] };

const STATUS_OF: Record<MessageCenterStatus['status'], number> = {
  sent: BroadLogStatus.sent,
  failed: BroadLogStatus.failed,
  ignored: BroadLogStatus.ignored,
  expired: BroadLogStatus.expired,
};

export interface EventProcessorOptions {
  pool: Pool;
  channels: ChannelRegistry;
  defaultSender: string;
  /** Sending attempts before a temporarily failing event expires. */
  maxAttempts: number;
}

/**
 * The message center's work on a set of events, without writing anything: pick the template of each event
 * type (an nms:delivery template with @eventType, in the cloud copy; the one whose channel matches the
 * event's @wishedChannel first), render it with the event's ctx, send through the template's channel, and
 * decide each event's outcome: sent, failed (rendering, no address, a channel's permanent refusal), ignored
 * (no template covers the type), expired (past @expiration, or temporary failures beyond maxAttempts), or to
 * be retried. Problems of one event never stop the others.
 */
export function createEventProcessor(options: EventProcessorOptions) {
  return async function processEvents(events: PendingEvent[]): Promise<{ verdicts: EventVerdict[]; retries: EventRetry[] }> {
    const verdicts: EventVerdict[] = [];
    const retries: EventRetry[] = [];
    const verdict = (
      pending: PendingEvent,
      status: MessageCenterStatus['status'],
      reason: number,
      extra: { text?: string; deliveryId?: string; address?: string | null; attempts?: number } = {},
    ) =>
      verdicts.push({
        pending,
        status,
        logStatus: STATUS_OF[status],
        reason,
        ...(extra.text ? { text: extra.text.slice(0, 512) } : {}),
        ...(extra.deliveryId ? { deliveryId: extra.deliveryId } : {}),
        address: extra.address ?? pending.event.email ?? pending.event.mobilePhone ?? null,
        attempts: extra.attempts ?? pending.attempts,
        processedAt: new Date(),
      });

    const templates = await loadTemplates([...new Set(events.map((e) => e.event.type))]);
    const now = Date.now();
    const byChannel = new Map<string, { pending: PendingEvent; message: OutboundMessage; deliveryId: string }[]>();
    for (const pending of events) {
      const { event } = pending;
      if (event.expiration && Date.parse(event.expiration) < now) {
        verdict(pending, 'expired', FailureReason.expired, { text: `The event expired on ${event.expiration} before it could be sent` });
        continue;
      }
      const candidates = templates.get(event.type) ?? [];
      const template = candidates.find((t) => t.row.message_type === (event.wishedChannel ?? 0)) ?? candidates[0];
      if (!template) {
        verdict(pending, 'ignored', FailureReason.noTemplate, { text: `No message template covers the event type '${event.type}'` });
        continue;
      }
      const deliveryId = template.row.id;
      if ('error' in template) {
        verdict(pending, 'failed', FailureReason.rendering, { text: template.error, deliveryId });
        continue;
      }
      const definition = template.prepared.definition;
      const address = definition.messageType === 1 ? event.mobilePhone : event.email;
      if (!address) {
        verdict(pending, 'failed', FailureReason.unknownUser, {
          text: `The event has no ${definition.messageType === 1 ? 'mobile phone' : 'email address'} for the template's channel`,
          deliveryId,
          address: null,
        });
        continue;
      }
      const ctx = eventCtxData(event.ctx);
      if (!ctx) {
        verdict(pending, 'failed', FailureReason.rendering, { text: 'Personalisation error: the event ctx is not well-formed XML', deliveryId });
        continue;
      }
      const rendered = renderDeliveryMessage(template.prepared, {
        ctx,
        event: {
          id: event.eventId,
          type: event.type,
          email: event.email ?? null,
          mobilePhone: event.mobilePhone ?? null,
          externalId: event.externalId ?? null,
          language: event.language ?? null,
          country: event.country ?? null,
          wishedChannel: event.wishedChannel ?? null,
          created: event.created,
        },
      });
      if (!rendered.ok) {
        verdict(pending, 'failed', FailureReason.rendering, { text: rendered.reason, deliveryId, address });
        continue;
      }
      const routing = definition.routing;
      const list = byChannel.get(routing) ?? [];
      list.push({
        pending,
        deliveryId,
        message: {
          id: `${event.queue}-${event.eventId}`,
          kind: definition.messageType === 1 ? 'sms' : 'email',
          to: address,
          from: definition.senderAddress || options.defaultSender,
          subject: rendered.subject,
          body: rendered.body,
          meta: { eventId: event.eventId, eventType: event.type, queue: event.queue, template: deliveryId },
        },
      });
      byChannel.set(routing, list);
    }

    for (const [routing, list] of byChannel) {
      const channel = options.channels.find(routing);
      const failAll = (error: string, permanent: boolean) => {
        for (const item of list) settleFailure(item, error, permanent, FailureReason.unreachable);
      };
      const settleFailure = (item: (typeof list)[number], error: string, permanent: boolean, reason: number) => {
        const attempts = item.pending.attempts + 1;
        if (permanent) verdict(item.pending, 'failed', reason, { text: error, deliveryId: item.deliveryId, address: item.message.to, attempts });
        else if (attempts >= options.maxAttempts)
          verdict(item.pending, 'expired', FailureReason.expired, {
            text: `Expired after ${attempts} attempts; last error: ${error}`,
            deliveryId: item.deliveryId,
            address: item.message.to,
            attempts,
          });
        else retries.push({ pending: item.pending, attempts, error: error.slice(0, 512) });
      };
      if (!channel) {
        failAll(`${ErrorCatalogue.DELIVERY_UNKNOWN_CHANNEL.code} routing '${routing}' names no configured channel`, true);
        continue;
      }
      const first = list[0]!.message.id;
      let results;
      try {
        results = await channel.send({ key: `mc-${first}-${list.length}`, messages: list.map((i) => i.message) });
      } catch (err) {
        failAll(`channel ${channel.name}: ${(err as Error).message}`, false);
        continue;
      }
      results.forEach((r, i) => {
        const item = list[i]!;
        if (r.status === 'sent')
          verdict(item.pending, 'sent', FailureReason.none, { deliveryId: item.deliveryId, address: item.message.to, attempts: item.pending.attempts + 1 });
        else settleFailure(item, r.message, r.permanent, FAILURE_OF_KIND[r.kind]);
      });
    }
    return { verdicts, retries };
  };

  /** Templates by event type (cloud copy of nms:delivery), each compiled once per call. */
  async function loadTemplates(types: string[]) {
    type Loaded = { row: TemplateRow & { event_type: string }; prepared: PreparedDelivery } | { row: TemplateRow & { event_type: string }; error: string };
    const out = new Map<string, Loaded[]>();
    if (types.length === 0) return out;
    const { rows } = await options.pool.query<TemplateRow & { event_type: string }>(
      `SELECT ${TEMPLATE_COLUMNS}, event_type FROM nms_delivery WHERE is_model AND event_type = ANY($1::text[]) ORDER BY id`,
      [types],
    );
    for (const row of rows) {
      let loaded: Loaded;
      try {
        loaded = { row, prepared: prepareDelivery(templateDefinition(row), KNOWN) };
      } catch (err) {
        if (!isDeliveryError(err)) throw err;
        loaded = { row, error: `Template ${row.id}: ${err.message}` };
      }
      out.set(row.event_type, [...(out.get(row.event_type) ?? []), loaded]);
    }
    return out;
  }
}

export type EventProcessor = ReturnType<typeof createEventProcessor>;

/** The status message for a verdict. */
export function statusMessage(v: EventVerdict): MessageCenterStatus {
  return {
    queue: v.pending.event.queue,
    eventId: v.pending.event.eventId,
    status: v.status,
    ...(v.text ? { failureReason: v.text.slice(0, 255) } : {}),
    ...(v.deliveryId ? { deliveryId: v.deliveryId } : {}),
    attempts: v.attempts,
    processingAt: v.pending.firstSeenAt.toISOString(),
    processedAt: v.processedAt.toISOString(),
  };
}
