import type { DataServiceContext, DataServiceWorker } from '@cap/platform-data-service';
import { startRpcClient, type RpcClient, type RpcHandler } from '@cap/platform-kafka';
import { createWorkflowDefinitionSource } from './workflow-definition.source';
import { createWorkflowStatePublisher } from './workflow-state.publisher';
import { startWorkflowTimer } from './workflow-timer.worker';
import { createWorkflowEngine, type WorkflowEngine } from './workflow.engine';
import { createWorkflowHandlers } from './workflow.handlers';
import { createWorkflowStore } from './workflow.store';

export interface WorkflowModuleConfig {
  RPC_TIMEOUT_MS: number;
  WORKFLOW_TICK_MS: number;
  WORKFLOW_STEP_BUDGET_MS: number;
  WORKFLOW_MAX_TASKS_PER_RUN: number;
}

/**
 * Wiring of the workflow engine into cloud-executor's data-service hooks: `prepare` opens the RPC client to
 * local-store (where definitions live) and builds the engine; `createHandlers` serves workflow.command and
 * workflow.log; `startWorkers` runs the timer loop (stopped before the RPC client on shutdown).
 */
export function createWorkflowModule(config: WorkflowModuleConfig) {
  let ready: { engine: WorkflowEngine; rpc: RpcClient } | undefined;
  const get = () => {
    if (!ready) throw new Error('workflow module used before prepare()');
    return ready;
  };
  return {
    async prepare({ pool, base }: DataServiceContext): Promise<void> {
      const rpc = await startRpcClient(base.messaging, { instanceId: base.instanceId, defaultTimeoutMs: config.RPC_TIMEOUT_MS });
      const engine = createWorkflowEngine({
        store: createWorkflowStore(pool),
        definitions: createWorkflowDefinitionSource({ rpc, timeoutMs: config.RPC_TIMEOUT_MS }),
        publisher: createWorkflowStatePublisher({ pool, messaging: base.messaging }),
        logger: base.logger,
        limits: { maxTasksPerRun: config.WORKFLOW_MAX_TASKS_PER_RUN, maxStepsPerDrain: 1_000 },
      });
      ready = { engine, rpc };
    },
    createHandlers(): Record<string, RpcHandler> {
      return createWorkflowHandlers({ engine: get().engine, budgetMs: config.WORKFLOW_STEP_BUDGET_MS });
    },
    async startWorkers({ base }: DataServiceContext): Promise<DataServiceWorker[]> {
      const { engine, rpc } = get();
      return [
        { name: 'workflow-definitions-rpc', stop: () => rpc.stop() },
        startWorkflowTimer({ engine, intervalMs: config.WORKFLOW_TICK_MS, logger: base.logger }),
      ];
    },
  };
}
