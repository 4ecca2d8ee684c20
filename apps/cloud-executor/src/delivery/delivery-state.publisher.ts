import { TOPICS, type DeliveryStateChange } from '@cap/contracts';
import type { DeliveryDefinition } from '@cap/campaign-delivery';
import type { Messaging } from '@cap/platform-kafka';
import { withTransaction, type Pool } from '@cap/platform-postgres';
import type { DeliveryJobFailureCounters } from './delivery-job.row';

export interface DeliveryStatePublisher {
  /** Sends the delivery's current state when it has not been sent yet. */
  publish(deliveryId: string): Promise<void>;
  /** Sends every state left behind (a publish that failed); returns how many were sent. */
  publishPending(limit: number): Promise<number>;
}

const PUBLISH_LOCK_NAMESPACE = 727_201;

interface JobRow extends DeliveryJobFailureCounters {
  internal_name: string;
  template_name: string;
  definition: DeliveryDefinition;
  state_version: string;
  published_version: string;
  created_at: Date;
  updated_at: Date;
}

/**
 * Publishes the state the database holds *now*, under a per-delivery advisory lock (the workflow engine's
 * pattern): two publishers of one delivery take turns and the second reads what the first committed, so
 * delivery.state.changed.v1 (key = delivery id) carries the states in order. A failed publish leaves
 * published_version behind and the worker's loop sends it again.
 */
export function createDeliveryStatePublisher(deps: { pool: Pool; messaging: Messaging }): DeliveryStatePublisher {
  const publish = (deliveryId: string) =>
    withTransaction(deps.pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1, ($2::bigint % 2147483647)::int)', [PUBLISH_LOCK_NAMESPACE, deliveryId]);
      const { rows } = await client.query<JobRow>(
        `SELECT internal_name, template_name, definition, state, failure_text, targeted, excluded, to_deliver, processed, success, error,
                error_rendering, error_refused, error_unreachable, state_version, published_version, created_at, updated_at
           FROM cap_delivery_job WHERE delivery_id = $1`,
        [deliveryId],
      );
      const row = rows[0];
      if (!row || BigInt(row.published_version) >= BigInt(row.state_version)) return;
      const d = row.definition;
      const payload: DeliveryStateChange = {
        deliveryId,
        internalName: row.internal_name,
        label: d.label.slice(0, 128),
        templateName: row.template_name,
        messageType: d.messageType,
        routing: d.routing,
        subject: d.subject.slice(0, 255),
        senderAddress: d.senderAddress.slice(0, 128),
        content: d.content,
        targets: d.targets,
        state: row.state,
        ...(row.failure_text ? { failureText: row.failure_text.slice(0, 512) } : {}),
        targeted: row.targeted,
        excluded: row.excluded,
        toDeliver: row.to_deliver,
        processed: row.processed,
        success: row.success,
        error: row.error,
        errorRendering: row.error_rendering,
        errorRefused: row.error_refused,
        errorUnreachable: row.error_unreachable,
        version: row.state_version,
        created: row.created_at.toISOString(),
        changedAt: row.updated_at.toISOString(),
      };
      await deps.messaging.publish(TOPICS.deliveryStateChanged, [{ key: deliveryId, payload }]);
      await client.query('UPDATE cap_delivery_job SET published_version = GREATEST(published_version, $2::bigint) WHERE delivery_id = $1', [
        deliveryId,
        row.state_version,
      ]);
    });
  return {
    publish,
    async publishPending(limit) {
      const { rows } = await deps.pool.query<{ delivery_id: string }>(
        'SELECT delivery_id FROM cap_delivery_job WHERE published_version < state_version ORDER BY delivery_id LIMIT $1',
        [limit],
      );
      for (const r of rows) await publish(r.delivery_id);
      return rows.length;
    },
  };
}
