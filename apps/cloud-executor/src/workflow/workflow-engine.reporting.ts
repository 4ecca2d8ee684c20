import { WORKFLOW_FAULTS, WORKFLOW_STATE, type LogLine, type TaskStatus, type Vars, type WorkflowInstance } from '@cap/campaign-workflow';
import { describeRef, parseWorkflowRef } from './workflow-definition.source';
import type { EngineContext } from './workflow-engine.context';

/** The fields of an instance that `workflow.log` reports as they are. */
type ReportedField = 'workflowId' | 'internalName' | 'runId' | 'state' | 'failed' | 'status' | 'variables';

/** What `workflow.log` answers: the instance, the current run's tasks and the latest log lines. */
export interface WorkflowReport extends Pick<WorkflowInstance, ReportedField> {
  tasks: {
    id: string;
    activity: string;
    type: string;
    status: TaskStatus;
    vars: Vars;
    taskVars: Vars;
    attempt: number;
    wakeAt: string | null;
    createdAt: string;
    completedAt: string | null;
  }[];
  log: LogLine[];
}

export interface EngineReporting {
  /** Sends the workflow's committed state (workflow-state.publisher.ts); a failure is left to the timer loop. */
  publishQuietly(workflowId: string): Promise<void>;
  /** The instance's state, the current run's tasks and the latest `limit` log lines. */
  report(workflowId: string, limit: number): Promise<WorkflowReport>;
}

/** The engine's reporting: state publication after each committed change, and the report of a workflow. */
export function createEngineReporting(ctx: EngineContext): EngineReporting {
  const { store, logger, deps } = ctx;
  return {
    async publishQuietly(workflowId) {
      try {
        await deps.publisher.publish(workflowId);
      } catch (err) {
        // The state is committed; the timer loop publishes it again.
        logger.warn({ event: 'workflow.publish_failed', workflowId, err }, 'workflow state not published yet; will retry');
      }
    },

    async report(workflowId, limit) {
      const ref = parseWorkflowRef(workflowId);
      if (!ref) throw WORKFLOW_FAULTS.unknownWorkflow(workflowId);
      const known = await store.findInstance(ref);
      const data = known ? await store.readReport(known.workflowId, limit) : undefined;
      if (!data) {
        const record = await deps.definitions.find(ref);
        if (!record) throw WORKFLOW_FAULTS.unknownWorkflow(describeRef(ref));
        return {
          workflowId: record.id,
          internalName: record.internalName,
          runId: 0,
          state: WORKFLOW_STATE.edition,
          failed: false,
          status: null,
          variables: {},
          tasks: [],
          log: [],
        };
      }
      const { instance, tasks, log } = data;
      return {
        workflowId: instance.workflowId,
        internalName: instance.internalName,
        runId: instance.runId,
        state: instance.state,
        failed: instance.failed,
        status: instance.status,
        variables: instance.variables,
        tasks: tasks.map((t) => ({
          id: t.id,
          activity: t.activity,
          type: t.activityType,
          status: t.status,
          vars: t.vars,
          taskVars: t.taskVars,
          attempt: t.attempt,
          wakeAt: t.wakeAt?.toISOString() ?? null,
          createdAt: t.createdAt,
          completedAt: t.completedAt,
        })),
        log,
      };
    },
  };
}
