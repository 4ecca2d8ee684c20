import { TOPICS } from '@cap/contracts';
import type { Messaging } from '@cap/platform-kafka';
import { withTransaction, type Pool } from '@cap/platform-postgres';

/** Sends a workflow's current state on workflow.state.changed.v1 when it has not been sent yet. */
export interface WorkflowStatePublisher {
  publish(workflowId: string): Promise<void>;
}

const PUBLISH_LOCK_NAMESPACE = 727_101;

/**
 * Publishes the state the database holds *now* (never a state remembered from before), under a per-workflow
 * advisory lock: two publishers of one workflow take turns, the second reads what the first committed, so
 * the topic (key = workflow id, one partition per workflow) carries the states in the order they happened.
 * A publish that fails leaves published_version behind; the timer loop sends it again (at least once; the
 * consumer is idempotent).
 */
export function createWorkflowStatePublisher(deps: { pool: Pool; messaging: Messaging }): WorkflowStatePublisher {
  return {
    async publish(workflowId) {
      await withTransaction(deps.pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1, ($2::bigint % 2147483647)::int)', [PUBLISH_LOCK_NAMESPACE, workflowId]);
        const { rows } = await client.query<{
          internal_name: string;
          state: number;
          failed: boolean;
          status: string | null;
          state_version: string;
          published_version: string;
          updated_at: Date;
        }>('SELECT internal_name, state, failed, status, state_version, published_version, updated_at FROM cap_wkf_instance WHERE workflow_id = $1', [
          workflowId,
        ]);
        const row = rows[0];
        if (!row || BigInt(row.published_version) >= BigInt(row.state_version)) return;
        await deps.messaging.publish(TOPICS.workflowStateChanged, [
          {
            key: workflowId,
            payload: {
              workflowId,
              internalName: row.internal_name,
              state: row.state as 0 | 11 | 13 | 15 | 20,
              failed: row.failed,
              ...(row.status === null ? {} : { status: row.status.slice(0, 255) }),
              version: row.state_version,
              changedAt: row.updated_at.toISOString(),
            },
          },
        ]);
        await client.query('UPDATE cap_wkf_instance SET published_version = GREATEST(published_version, $2::bigint) WHERE workflow_id = $1', [
          workflowId,
          row.state_version,
        ]);
      });
    },
  };
}
