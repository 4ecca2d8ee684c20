import type { Schema } from '@cap/campaign-schema';
import { systemClock, type Clock } from '@cap/campaign-workflow';
import type { DataServiceWorker } from '@cap/platform-data-service';
import { startRpcClient, type RpcHandler } from '@cap/platform-kafka';
import type { Pool } from '@cap/platform-postgres';
import type { ServiceBase } from '@cap/platform-runtime';
import { createActivityRunner } from './workflow-activity.runner';
import type { WorkflowDeliveries } from './workflow-delivery.activity';
import { createWorkflowDataAccess } from './workflow-data.access';
import { createWorkflowDefinitionSource } from './workflow-definition.source';
import { createScriptSandbox } from './workflow-script.sandbox';
import { createWorkflowStatePublisher } from './workflow-state.publisher';
import { startWorkflowTimer } from './workflow-timer.worker';
import { createWorkflowEngine, type WorkflowEngine } from './workflow.engine';
import { createPostgresWorkflowStore } from './workflow-store.postgres';
import { createWorkflowRpcHandlers } from './workflow.rpc-handlers';

export interface WorkflowModuleConfig {
  RPC_TIMEOUT_MS: number;
  QUERY_DEFAULT_LINE_COUNT: number;
  QUERY_MAX_LINE_COUNT: number;
  WORKFLOW_TICK_MS: number;
  WORKFLOW_STEP_BUDGET_MS: number;
  WORKFLOW_MAX_TASKS_PER_RUN: number;
  WORKFLOW_JS_CPU_LIMIT_MS: number;
  WORKFLOW_JS_MEMORY_LIMIT_MB: number;
  WORKFLOW_JS_TIMEOUT_MS: number;
  WORKFLOW_JS_WORKERS: number;
  WORKFLOW_VARIABLES_MAX_BYTES: number;
  WORKFLOW_WORK_CONCURRENCY: number;
  WORKFLOW_TASK_LEASE_MS: number;
  WORKFLOW_QUERY_MAX_ROWS: number;
  WORKFLOW_ACTIVITY_TIMEOUT_MS: number;
}

/** How long shutdown waits for running scripts before abandoning them (their tasks run again elsewhere). */
const CLOSE_GRACE_MS = 5_000;

export interface WorkflowModule {
  /** workflow.command and workflow.log. */
  rpcHandlers: Record<string, RpcHandler>;
  /** Running: the RPC client to local-store, the activities (engine and script sandbox), the timer loop. */
  workers: DataServiceWorker[];
}

/**
 * The workflow engine (docs/workflows.md): opens the RPC client to local-store (definitions, local data for
 * activities) and the script sandbox, builds the engine, and starts its timer loop. Delivery activities use
 * `deliveries` (the delivery module's actions; without it they fail). On shutdown (workers in reverse order)
 * the timer stops first, then running activities finish (or are abandoned), then the RPC client.
 */
export async function createWorkflowModule(deps: {
  config: WorkflowModuleConfig;
  schemas: ReadonlyMap<string, Schema>;
  base: ServiceBase;
  pool: Pool;
  deliveries?: WorkflowDeliveries;
}): Promise<WorkflowModule> {
  const { config, schemas, base, pool, deliveries } = deps;
  // One clock for the engine, its timer loop, its RPC handlers and its activities.
  const clock: Clock = systemClock;
  const rpc = await startRpcClient(base.messaging, { instanceId: base.instanceId, defaultTimeoutMs: config.RPC_TIMEOUT_MS, registry: base.registry });
  const sandbox = createScriptSandbox({
    workers: config.WORKFLOW_JS_WORKERS,
    limits: {
      cpuMs: config.WORKFLOW_JS_CPU_LIMIT_MS,
      wallMs: config.WORKFLOW_JS_TIMEOUT_MS,
      memoryBytes: config.WORKFLOW_JS_MEMORY_LIMIT_MB * 1024 * 1024,
      stackBytes: 256 * 1024,
      variablesMaxBytes: config.WORKFLOW_VARIABLES_MAX_BYTES,
    },
    logger: base.logger,
  });
  const data = createWorkflowDataAccess({
    pool,
    schemas,
    rpc,
    timeoutMs: config.RPC_TIMEOUT_MS,
    limits: { defaultLineCount: config.QUERY_DEFAULT_LINE_COUNT, maxLineCount: config.QUERY_MAX_LINE_COUNT },
  });
  const runner = createActivityRunner({
    sandbox,
    data,
    pool,
    schemas,
    limits: { queryMaxRows: config.WORKFLOW_QUERY_MAX_ROWS, activityTimeoutMs: config.WORKFLOW_ACTIVITY_TIMEOUT_MS, maxLogLines: 1_000 },
    postEvent: (event) => engine.postEventFromScript(event),
    now: clock,
    ...(deliveries ? { deliveries } : {}),
  });
  const engine: WorkflowEngine = createWorkflowEngine({
    store: createPostgresWorkflowStore(pool),
    definitions: createWorkflowDefinitionSource({ rpc, timeoutMs: config.RPC_TIMEOUT_MS }),
    publisher: createWorkflowStatePublisher({ pool, messaging: base.messaging }),
    logger: base.logger,
    limits: {
      maxTasksPerRun: config.WORKFLOW_MAX_TASKS_PER_RUN,
      maxStepsPerDrain: 1_000,
      taskLeaseMs: config.WORKFLOW_TASK_LEASE_MS,
      workConcurrency: config.WORKFLOW_WORK_CONCURRENCY,
      deliveryPollMs: Math.max(200, config.WORKFLOW_TICK_MS),
    },
    runner,
    schemas,
    ...(deliveries ? { deliveries } : {}),
    now: clock,
  });
  const timer = startWorkflowTimer({ engine, intervalMs: config.WORKFLOW_TICK_MS, logger: base.logger, now: clock });
  // A command starts work the timer loop may have to carry on (waits, work past the budget): it looks at once.
  const command: WorkflowEngine['command'] = (cmd, options) => engine.command(cmd, options).finally(() => timer.wake());
  return {
    rpcHandlers: createWorkflowRpcHandlers({ engine: { ...engine, command }, budgetMs: config.WORKFLOW_STEP_BUDGET_MS, now: clock }),
    workers: [
      { name: 'workflow-definitions-rpc', stop: () => rpc.stop() },
      { name: 'workflow-activities', stop: async () => void (await Promise.all([engine.close(), sandbox.close(CLOSE_GRACE_MS)])) },
      timer,
    ],
  };
}
