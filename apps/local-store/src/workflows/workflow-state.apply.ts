import type { TOPICS } from '@cap/contracts';
import type { TopicPayload } from '@cap/platform-kafka';
import type { Logger } from '@cap/platform-logger';
import type { Pool } from '@cap/platform-postgres';

/**
 * Applies the workflow engine's state changes (cloud-executor → workflow.state.changed.v1) to xtk:workflow,
 * so queryDef on xtk:workflow shows @state, @failed and @status. Messages of one workflow share a partition
 * and arrive in order; applying one twice sets the same values again (idempotent). A workflow deleted in the
 * meantime is skipped.
 */
export async function applyWorkflowStates(deps: { pool: Pool; logger: Logger }, changes: TopicPayload<typeof TOPICS.workflowStateChanged>[]): Promise<void> {
  for (const change of changes) {
    const result = await deps.pool.query('UPDATE xtk_workflow SET state = $2, failed = $3, status = $4, last_modified = now() WHERE id = $1', [
      change.workflowId,
      change.state,
      change.failed,
      change.status ?? null,
    ]);
    if (!result.rowCount)
      deps.logger.warn(
        { event: 'workflow.state.unknown_workflow', workflowId: change.workflowId, internalName: change.internalName },
        'state change for a workflow that no longer exists',
      );
    else
      deps.logger.debug(
        { event: 'workflow.state.applied', workflowId: change.workflowId, state: change.state, version: change.version },
        'workflow state applied',
      );
  }
}
