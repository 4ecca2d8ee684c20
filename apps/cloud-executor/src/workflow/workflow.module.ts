import type { Schema } from '@cap/campaign-schema';
import { systemClock, type Clock } from '@cap/campaign-workflow';
import type { DataServiceContext, DataServiceWorker } from '@cap/platform-data-service';
import { startRpcClient, type RpcClient, type RpcHandler } from '@cap/platform-kafka';
import type { DeliveryActions } from '../delivery/delivery-action.creator';
import { createActivityRunner } from './workflow-activity.runner';
import type { WorkflowDeliveries } from './workflow-delivery.activity';
import { createWorkflowDataAccess } from './workflow-data.access';
import { createWorkflowDefinitionSource } from './workflow-definition.source';
import { createScriptSandbox, type ScriptSandbox } from './workflow-script.sandbox';
import { createWorkflowStatePublisher } from './workflow-state.publisher';
import { startWorkflowTimer, type WorkflowTimer } from './workflow-timer.worker';
import { createWorkflowEngine, type WorkflowEngine } from './workflow.engine';
import { createWorkflowHandlers } from './workflow.handlers';
import { createPostgresWorkflowStore } from './workflow-store.postgres';

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

/**
 * Wiring of the workflow engine into cloud-executor's data-service hooks: `prepare` opens the RPC client to
 * local-store (definitions, local data for activities), the script sandbox, and builds the engine;
 * `createHandlers` serves workflow.command and workflow.log; `startWorkers` runs the timer loop. On shutdown
 * the timer stops first, then running activities finish (or are abandoned), then the RPC client.
 */
export function createWorkflowModule(config: WorkflowModuleConfig, deps: { schemas: ReadonlyMap<string, Schema>; deliveries?: () => DeliveryActions }) {
  // One clock for the engine, its timer loop, its RPC handlers and its activities.
  const clock: Clock = systemClock;
  let ready: { engine: WorkflowEngine; rpc: RpcClient; sandbox: ScriptSandbox } | undefined;
  let timer: WorkflowTimer | undefined;
  const get = () => {
    if (!ready) throw new Error('workflow module used before prepare()');
    return ready;
  };
  return {
    async prepare({ pool, base }: DataServiceContext): Promise<void> {
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
        schemas: deps.schemas,
        rpc,
        timeoutMs: config.RPC_TIMEOUT_MS,
        limits: { defaultLineCount: config.QUERY_DEFAULT_LINE_COUNT, maxLineCount: config.QUERY_MAX_LINE_COUNT },
      });
      // The delivery module is prepared after this one: its actions are looked up when a delivery activity needs them.
      const getDeliveries = deps.deliveries;
      const deliveries: WorkflowDeliveries | undefined = getDeliveries && {
        checkTemplate: (template, options) => getDeliveries().checkTemplate(template, options),
        findOrCreate: (request) => getDeliveries().findOrCreate(request),
        status: (deliveryId) => getDeliveries().status(deliveryId),
      };
      const runner = createActivityRunner({
        sandbox,
        data,
        pool,
        schemas: deps.schemas,
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
        schemas: deps.schemas,
        ...(deliveries ? { deliveries } : {}),
        now: clock,
      });
      ready = { engine, rpc, sandbox };
    },
    createHandlers(): Record<string, RpcHandler> {
      const { engine } = get();
      // A command starts work the timer loop may have to carry on (waits, work past the budget): it looks at once.
      const command: WorkflowEngine['command'] = (cmd, options) => engine.command(cmd, options).finally(() => timer?.wake());
      return createWorkflowHandlers({ engine: { ...engine, command }, budgetMs: config.WORKFLOW_STEP_BUDGET_MS, now: clock });
    },
    async startWorkers({ base }: DataServiceContext): Promise<DataServiceWorker[]> {
      const { engine, rpc, sandbox } = get();
      return [
        { name: 'workflow-definitions-rpc', stop: () => rpc.stop() },
        { name: 'workflow-activities', stop: async () => void (await Promise.all([engine.close(), sandbox.close(CLOSE_GRACE_MS)])) },
        (timer = startWorkflowTimer({ engine, intervalMs: config.WORKFLOW_TICK_MS, logger: base.logger, now: clock })),
      ];
    },
  };
}
