import type { DeliveryStateChange } from '@cap/contracts';
import type { Logger } from '@cap/platform-logger';
import type { Pool } from '@cap/platform-postgres';

const COLUMNS = [
  'id',
  'internal_name',
  'label',
  'is_model',
  'message_type',
  'state',
  'routing',
  'delivery_code',
  'failure_text',
  'mail_parameters_subject',
  'mail_parameters_sender_address',
  'content',
  'targets',
  'properties_targeted',
  'properties_excluded',
  'properties_to_deliver',
  'properties_processed',
  'properties_success',
  'properties_error',
  'properties_error_rendering',
  'properties_error_refused',
  'properties_error_unreachable',
  'created',
  'last_modified',
];
const UPSERT = `INSERT INTO nms_delivery (${COLUMNS.join(', ')})
  VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})
  ON CONFLICT (id) DO UPDATE SET ${COLUMNS.filter((c) => c !== 'id' && c !== 'internal_name' && c !== 'created')
    .map((c) => `${c} = EXCLUDED.${c}`)
    .join(', ')}
  WHERE nms_delivery.is_model IS NOT TRUE`;

/**
 * Records the delivery actions SubmitDelivery creates (cloud-executor → delivery.state.changed.v1) in the
 * local nms:delivery, master of the replicated schema: the definition the action was created with, @state and
 * the indicators, so queryDef on nms:delivery shows them; the replication trigger mirrors the row to the cloud
 * DB like any other write. Messages of one delivery arrive in order (key = delivery id) and carry the whole
 * current state, so applying one again is harmless. A template is never overwritten.
 */
export async function applyDeliveryStates(deps: { pool: Pool; logger: Logger }, changes: DeliveryStateChange[]): Promise<void> {
  for (const d of changes) {
    const values = (internalName: string) => [
      d.deliveryId,
      internalName,
      d.label,
      false,
      d.messageType,
      d.state,
      d.routing || null,
      d.templateName,
      d.failureText ?? null,
      d.subject,
      d.senderAddress,
      d.content,
      d.targets || null,
      d.targeted,
      d.excluded,
      d.toDeliver,
      d.processed,
      d.success,
      d.error,
      d.errorRendering,
      d.errorRefused,
      d.errorUnreachable,
      d.created,
      d.changedAt,
    ];
    try {
      await deps.pool.query(UPSERT, values(d.internalName));
    } catch (err) {
      // A template (or an older action) already uses that internal name: keep the action, with a unique name.
      if ((err as { code?: string; constraint?: string }).code !== '23505' || !String((err as { constraint?: string }).constraint).includes('internal_name'))
        throw err;
      await deps.pool.query(UPSERT, values(`${d.internalName}-${d.deliveryId}`.slice(0, 64)));
    }
    deps.logger.debug(
      { event: 'delivery.state.applied', deliveryId: d.deliveryId, state: d.state, processed: d.processed, version: d.version },
      'delivery state applied',
    );
  }
}
