import type { Schema } from '@cap/campaign-schema';
import type { Logger } from '@cap/platform-logger';
import { parseWorkflowDefinition, type Activity, type Clock, type WorkflowDefinition, type WorkflowInstance } from '@cap/campaign-workflow';
import type { ActivityRunner, WorkItem } from './workflow-activity.runner';
import type { WorkflowDeliveries } from './workflow-delivery.activity';
import type { WorkflowDefinitionSource } from './workflow-definition.source';
import type { WorkflowStatePublisher } from './workflow-state.publisher';
import type { WorkflowStore } from './workflow.store';

export interface WorkflowEngineLimits {
  /** Tasks one run may create: a loop without end fails the workflow instead of filling the database. */
  maxTasksPerRun: number;
  /** Steps one drain runs before it leaves the rest to the timer loop. */
  maxStepsPerDrain: number;
  /** How long a claim on a work activity holds without renewal (an engine that dies loses it after this). */
  taskLeaseMs: number;
  /** Workflows whose work activities (scripts, queries, updates) run at once in this engine. */
  workConcurrency: number;
  /** How often a delivery activity's task looks at its delivery (default 1 s). */
  deliveryPollMs?: number;
}

/** What the engine is built from: its store, the definitions, the state publisher, the clock… (all injected). */
export interface WorkflowEngineDeps {
  store: WorkflowStore;
  definitions: WorkflowDefinitionSource;
  publisher: WorkflowStatePublisher;
  logger: Logger;
  limits: WorkflowEngineLimits;
  /** Runs js, query and updateData activities (without it they fail). */
  runner?: ActivityRunner;
  /** The compiled schemas: query and update activities are checked against them when a run starts. */
  schemas?: ReadonlyMap<string, Schema>;
  /** The delivery module: delivery activities' templates are checked at Start, their deliveries followed. */
  deliveries?: WorkflowDeliveries;
  /** Every time the engine reads (waits, leases, budgets); the system clock by default. */
  now?: Clock;
}

/** A fault of the workflow itself (not of the infrastructure): the workflow goes to error, paused. */
export class WorkflowFailure extends Error {
  constructor(
    message: string,
    readonly activity: string | null = null,
  ) {
    super(message);
    this.name = 'WorkflowFailure';
  }
}

/** What one step did. */
export interface StepResult {
  progressed: boolean;
  stateChanged: boolean;
  /** A work activity claimed by this step: to run now, outside the transaction. */
  work?: WorkItem;
  /** Only work activities are left and this drain does not run them: the background runner does. */
  deferred?: boolean;
}

/** What the parts of the engine share: its dependencies, the clock, the runs' definitions, whether it is closing. */
export interface EngineContext {
  deps: WorkflowEngineDeps;
  store: WorkflowStore;
  limits: WorkflowEngineLimits;
  logger: Logger;
  clock: Clock;
  /** The run's definition (parsed once per run; a run keeps the definition it started with). */
  definitionOf(inst: WorkflowInstance): WorkflowDefinition;
  /** Keeps a run's definition, parsed when the run started. */
  remember(workflowId: string, runId: number, definition: WorkflowDefinition): void;
  activityOf(def: WorkflowDefinition, name: string): Activity;
  /** Set by close(): no work activity is claimed or started any more. */
  readonly closed: boolean;
  close(): void;
}

const DEFINITIONS_KEPT = 500;

export function createEngineContext(deps: WorkflowEngineDeps, clock: Clock): EngineContext {
  const definitions = new Map<string, WorkflowDefinition>();
  let closed = false;
  const remember = (key: string, definition: WorkflowDefinition) => {
    if (definitions.size >= DEFINITIONS_KEPT) definitions.delete(definitions.keys().next().value!);
    definitions.set(key, definition);
  };
  return {
    deps,
    store: deps.store,
    limits: deps.limits,
    logger: deps.logger.child({ module: 'workflow-engine' }),
    clock,
    definitionOf(inst) {
      const key = `${inst.workflowId}:${inst.runId}`;
      const cached = definitions.get(key);
      if (cached) return cached;
      const parsed = parseWorkflowDefinition(inst.definitionXml, deps.schemas ? { schemas: deps.schemas } : {});
      if (!parsed.ok) throw new WorkflowFailure(`the definition of run ${inst.runId} cannot be read: ${parsed.problems[0]!.message}`);
      remember(key, parsed.definition);
      return parsed.definition;
    },
    remember: (workflowId, runId, definition) => remember(`${workflowId}:${runId}`, definition),
    activityOf(def, name) {
      const activity = def.byName.get(name);
      if (!activity) throw new WorkflowFailure(`activity '${name}' is not in the run's definition`, name);
      return activity;
    },
    get closed() {
      return closed;
    },
    close() {
      closed = true;
    },
  };
}
