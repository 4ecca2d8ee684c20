import { DeliveryState } from '@cap/campaign-delivery';
import type { PoolClient } from '@cap/platform-postgres';

/**
 * A delivery's target as a SELECT: its parameters, and which of its output columns hold the recipient id, the
 * address for the channel and the denylist flag.
 */
export interface DeliveryTargetQuery {
  sql: string;
  params: unknown[];
  columns: { id: string; address: string; blackList: string };
}

/**
 * Writes the delivery logs (`nms:broadLogRcp`, pending) of a target in one statement and moves the job to its
 * sending phase with its counts — or, for a Prepare (`prepare_only`), to 'prepared' (@state 25), where it waits
 * for Start. Denylisted recipients and those without an address for the channel are
 * targeted but get no log: they are the job's `excluded`. Runs in the caller's transaction, the one that
 * records the targeting, so a crash leaves either no logs or all of them.
 */
export async function writeDeliveryLogs(client: PoolClient, deliveryId: string, target: DeliveryTargetQuery): Promise<{ targeted: number; inserted: number }> {
  const { id, address, blackList } = target.columns;
  const n = target.params.length;
  const { rows } = await client.query<{ targeted: number; inserted: number }>(
    `WITH target AS (${target.sql}),
          ins AS (INSERT INTO nms_broad_log_rcp (id, delivery_id, recipient_id, address, status, failure_reason, event_date, last_modified)
                  SELECT gen_random_uuid()::text, $${n + 1}::bigint, t.${id}, t.${address}, 0, 0, now(), now()
                    FROM target t WHERE NOT coalesce(t.${blackList}, false) AND coalesce(t.${address}, '') <> '' RETURNING 1)
     SELECT (SELECT count(*) FROM target)::int AS targeted, (SELECT count(*) FROM ins)::int AS inserted`,
    [...target.params, deliveryId],
  );
  const { targeted, inserted } = rows[0]!;
  await client.query(
    `UPDATE cap_delivery_job SET phase = CASE WHEN prepare_only THEN 'prepared' ELSE 'sending' END,
            state = CASE WHEN prepare_only THEN $6::int ELSE $2::int END, targeted = $3, excluded = $4, to_deliver = $5, updated_at = now(),
            state_version = state_version + 1 WHERE delivery_id = $1`,
    [deliveryId, DeliveryState.running, targeted, targeted - inserted, inserted, DeliveryState.targeted],
  );
  return { targeted, inserted };
}
