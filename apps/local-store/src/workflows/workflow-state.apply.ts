import { TOPICS } from '@cap/contracts';
import { errors } from '@cap/platform-errors';
import { runConsumer, type ConsumerRunner, type Messaging, type QuarantineOptions } from '@cap/platform-kafka';
import type { Logger } from '@cap/platform-logger';
import type { Pool } from '@cap/platform-postgres';

/** Its consumer group, and its name in the quarantine. */
export const WORKFLOW_STATE_CONSUMER = 'local-store-workflow-state';

/**
 * Applies the workflow engine's state changes (cloud-executor → workflow.state.changed.v1) to xtk:workflow,
 * so queryDef on xtk:workflow shows @state, @failed and @status. Messages of one workflow share a partition
 * and arrive in order; applying one twice sets the same values again (idempotent). A workflow deleted in the
 * meantime is skipped. Database outages are retried (the offset is not committed before the update).
 */
export async function startWorkflowStateConsumer(deps: { pool: Pool; messaging: Messaging; logger: Logger; quarantine?: QuarantineOptions }): Promise<ConsumerRunner> {
  const logger = deps.logger.child({ module: 'workflow-state' });
  return runConsumer(deps.messaging, {
    groupId: WORKFLOW_STATE_CONSUMER,
    ...(deps.quarantine ? { quarantine: deps.quarantine } : {}),
    topic: TOPICS.workflowStateChanged,
    concurrency: TOPICS.workflowStateChanged.partitions,
    // A new group reads what was published before it joined (last state wins: replays are harmless).
    fromBeginning: true,
    async handle(message) {
      const change = message.envelope.payload;
      let updated: number;
      try {
        const result = await deps.pool.query(
          'UPDATE xtk_workflow SET state = $2, failed = $3, status = $4, last_modified = now() WHERE id = $1',
          [change.workflowId, change.state, change.failed, change.status ?? null],
        );
        updated = result.rowCount ?? 0;
      } catch (err) {
        // A refusal of the data itself (SQLSTATE classes 22, 23, 42) will not get better: dead-letter it.
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'string' && /^(22|23|42)/.test(code)) throw errors.invalidMessage(TOPICS.workflowStateChanged.name, (err as Error).message);
        throw errors.serviceUnavailable('local database', (err as Error).message);
      }
      if (updated === 0) logger.warn({ event: 'workflow.state.unknown_workflow', workflowId: change.workflowId, internalName: change.internalName }, 'state change for a workflow that no longer exists');
      else logger.debug({ event: 'workflow.state.applied', workflowId: change.workflowId, state: change.state, version: change.version }, 'workflow state applied');
    },
  });
}
