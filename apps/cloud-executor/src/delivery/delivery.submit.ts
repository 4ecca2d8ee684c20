import { z } from 'zod';
import {
  compileDeliveryTarget,
  DeliveryError,
  DeliveryState,
  isDeliveryError,
  mergeDeliveryFragment,
  personalisationFields,
  prepareDelivery,
  RECIPIENT_SCHEMA,
  type DeliveryDefinition,
  type PersonalisationField,
} from '@cap/campaign-delivery';
import type { Schema } from '@cap/campaign-schema';
import { parseXml, XmlParseError, type XmlElement } from '@cap/campaign-xml';
import { appError, appErrorOf, ErrorCatalogue, errors } from '@cap/platform-errors';
import type { Logger } from '@cap/platform-logger';
import { withTransaction, type Pool, type PoolClient } from '@cap/platform-postgres';
import type { ChannelRegistry } from '../channels/channel.registry';
import type { DeliveryStatePublisher } from './delivery-state.publisher';

const submitParams = z.object({
  scenarioName: z.string().trim().min(1).max(64),
  /** The content fragment as the caller sent it (serialised XML); absent: the template as it is. */
  content: z
    .string()
    .max(8 * 1024 * 1024)
    .optional(),
});

/** Delivery action ids: 2^50 + a cloud sequence (see migration 0003). */
export const DELIVERY_ID_BASE = 1n << 50n;

/** What a template row of nms_delivery (cloud copy) says, as a definition. */
export interface TemplateRow {
  id: string;
  label: string | null;
  message_type: number | null;
  routing: string | null;
  mail_parameters_subject: string | null;
  mail_parameters_sender_address: string | null;
  content: string | null;
  targets: string | null;
}

export const TEMPLATE_COLUMNS = 'id, label, message_type, routing, mail_parameters_subject, mail_parameters_sender_address, content, targets';

export function templateDefinition(row: TemplateRow): DeliveryDefinition {
  return {
    label: row.label ?? '',
    messageType: row.message_type ?? 0,
    routing: row.routing ?? '',
    subject: row.mail_parameters_subject ?? '',
    senderAddress: row.mail_parameters_sender_address ?? '',
    content: row.content ?? '',
    targets: row.targets ?? '',
  };
}

/** The recipient fields a delivery template may use, and the delivery's own. */
export function deliveryTemplateFields(schemas: ReadonlyMap<string, Schema>): {
  fields: PersonalisationField[];
  known: { fields: Record<string, ReadonlySet<string>>; freeRoots: string[] };
} {
  const fields = personalisationFields(schemas.get(RECIPIENT_SCHEMA)!);
  return { fields, known: { fields: { recipient: new Set(fields.map((f) => f.path)), delivery: new Set(['label', 'internalName', 'id']) }, freeRoots: [] } };
}

/**
 * A delivery's definition: the template (`@isModel`) found by internal name in the cloud copy of nms:delivery,
 * merged with the fragment, and checked as every delivery is before anything is recorded — a configured channel,
 * a sender, personalisation that compiles. The target is the caller's to check (it may replace it).
 */
export async function loadDeliveryDefinition(
  deps: { pool: Pool; channels: ChannelRegistry; defaultSender: string },
  known: ReturnType<typeof deliveryTemplateFields>['known'],
  template: string,
  fragment: XmlElement | undefined,
): Promise<DeliveryDefinition> {
  const { rows } = await deps.pool.query<TemplateRow>(`SELECT ${TEMPLATE_COLUMNS} FROM nms_delivery WHERE internal_name = $1 AND is_model`, [template]);
  if (rows.length === 0) {
    throw new DeliveryError(
      ErrorCatalogue.DELIVERY_UNKNOWN_TEMPLATE,
      `No delivery template '${template}' (a template is an nms:delivery with @isModel=true; one written moments ago reaches the execution database in about a second)`,
    );
  }
  return checkDeliveryDefinition(deps, known, mergeDeliveryFragment(templateDefinition(rows[0]!), fragment));
}

/** Checks a definition as every delivery is checked before anything is recorded (the target excepted); fills in the default sender. */
export function checkDeliveryDefinition(
  deps: { channels: ChannelRegistry; defaultSender: string },
  known: ReturnType<typeof deliveryTemplateFields>['known'],
  definition: DeliveryDefinition,
): DeliveryDefinition {
  if (!deps.channels.find(definition.routing)) {
    throw new DeliveryError(
      ErrorCatalogue.DELIVERY_UNKNOWN_CHANNEL,
      `routing '${definition.routing}' names no configured channel (configured: ${deps.channels.names().join(', ')})`,
    );
  }
  if (definition.messageType === 0 && definition.senderAddress.trim() === '') definition.senderAddress = deps.defaultSender;
  prepareDelivery(definition, known);
  return definition;
}

/** A new delivery action's id (2^50 + the sequence) and internal name (`DM<n>`). */
export async function newDeliveryActionName(client: Pool | PoolClient): Promise<{ deliveryId: string; internalName: string }> {
  const seq = await client.query<{ seq: string }>("SELECT nextval('cap_delivery_action_seq')::text AS seq");
  const n = BigInt(seq.rows[0]!.seq);
  return { deliveryId: (DELIVERY_ID_BASE + n).toString(), internalName: `DM${n}` };
}

/**
 * Records a delivery action as a job to target and send (delivery.runner.ts), in the caller's transaction. With
 * `prepareOnly` (Prepare), targeting ends in phase 'prepared' (@state 25) and nothing is sent until Start; the
 * delivery shows @state 11 (targeting) meanwhile.
 */
export async function recordDeliveryJob(
  client: PoolClient,
  job: {
    template: string;
    definition: DeliveryDefinition;
    workflowTaskId?: string;
    existing?: { deliveryId: string; internalName: string };
    prepareOnly?: boolean;
  },
): Promise<{ deliveryId: string; internalName: string }> {
  const { deliveryId, internalName } = job.existing ?? (await newDeliveryActionName(client));
  const prepareOnly = job.prepareOnly === true;
  await client.query(
    `INSERT INTO cap_delivery_job (delivery_id, internal_name, template_name, definition, phase, state, workflow_task_id, prepare_only)
     VALUES ($1, $2, $3, $4, 'targeting', $5, $6, $7)`,
    [
      deliveryId,
      internalName,
      job.template,
      JSON.stringify(job.definition),
      prepareOnly ? DeliveryState.targeting : DeliveryState.started,
      job.workflowTaskId ?? null,
      prepareOnly,
    ],
  );
  return { deliveryId, internalName };
}

/** What records delivery jobs needs: SubmitDelivery and the delivery actions of workflows. */
export interface DeliveryJobDeps {
  pool: Pool;
  schemas: ReadonlyMap<string, Schema>;
  channels: ChannelRegistry;
  publisher: DeliveryStatePublisher;
  defaultSender: string;
  logger: Logger;
  wake(): void;
}

/**
 * `delivery.submit` (nms:delivery#SubmitDelivery): finds the template by internal name in the cloud copy of
 * nms:delivery, merges the content fragment, checks everything that can be checked before anything is
 * written (channel, personalisation, target where clause), then records the delivery action as a job in ONE
 * transaction and replies. Targeting and sending run in the background (delivery.runner.ts); the action
 * appears in nms:delivery (local, then its cloud copy) through delivery.state.changed.v1.
 */
export function createSubmitHandler(deps: DeliveryJobDeps) {
  const { known } = deliveryTemplateFields(deps.schemas);
  return async (params: unknown): Promise<{ deliveryId: string; internalName: string }> => {
    const p = submitParams.safeParse(params);
    if (!p.success) throw errors.invalidRequest('delivery.submit parameters', p.error.issues[0]?.message ?? 'rejected');
    const { scenarioName } = p.data;
    try {
      let fragment: XmlElement | undefined;
      if (p.data.content) {
        try {
          fragment = parseXml(p.data.content);
        } catch (err) {
          throw appError(ErrorCatalogue.SOAP_MALFORMED, { what: 'SubmitDelivery content', why: err instanceof XmlParseError ? err.message : 'unreadable' });
        }
      }
      const definition = await loadDeliveryDefinition(deps, known, scenarioName, fragment);
      compileDeliveryTarget(definition.targets, deps.schemas);
      const recorded = await withTransaction(deps.pool, (client) => recordDeliveryJob(client, { template: scenarioName, definition }));
      deps.logger.info({ event: 'delivery.submitted', ...recorded, template: scenarioName }, 'delivery recorded');
      await deps.publisher
        .publish(recorded.deliveryId)
        .catch((err: unknown) =>
          deps.logger.warn({ event: 'delivery.publish_failed', deliveryId: recorded.deliveryId, err }, 'state not published yet; retried by the worker'),
        );
      deps.wake();
      return recorded;
    } catch (err) {
      if (isDeliveryError(err)) throw appErrorOf(err);
      throw err;
    }
  };
}
