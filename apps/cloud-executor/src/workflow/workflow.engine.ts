import { campaignError } from '@cap/campaign-persistence';
import type { Schema } from '@cap/campaign-schema';
import type { Logger } from '@cap/platform-logger';
import { isDeliveryError } from '@cap/campaign-delivery';
import type { ActivityRunner, WorkItem, WorkOutcome } from './workflow-activity.runner';
import { deliveryOutputVars, planDeliveryCheck, type WorkflowDeliveries } from './workflow-delivery.activity';
import { describeRef, parseWorkflowRef, type WorkflowDefinitionSource, type WorkflowRecord } from './workflow-definition.source';
import type { ScriptPostEvent } from './workflow-script.host';
import type { WorkflowStatePublisher } from './workflow-state.publisher';
import {
  ACTIVITY_CODES,
  decideCommand,
  DEFINITION_CODES,
  isJoinComplete,
  isWorkActivity,
  isWorkflowFault,
  parseWorkflowDefinition,
  planActivity,
  planSignal,
  planWakeUp,
  planWorkDone,
  WORK_ACTIVITY_TYPES,
  WORKFLOW_FAULTS,
  WORKFLOW_STATE,
  type Activity,
  type CommandDecision,
  type Fire,
  type LogLine,
  type TaskStatus,
  type Vars,
  type WorkflowDefinition,
  type WorkflowInstance,
  type WorkflowSignal,
  type WorkflowState,
  type WorkflowTask,
} from '@cap/campaign-workflow';
import type { WorkflowStore, WorkflowTransaction } from './workflow-store.postgres';

export type WorkflowCommand =
  | { command: 'start'; workflowId: string }
  | { command: 'stop' | 'pause' | 'resume'; workflowId: string }
  | { command: 'startWithParameters'; workflowId: string; parameters: Vars }
  | { command: 'postEvent'; workflowId: string; activity: string; transition: string; parameters: Vars; complete: boolean };

export interface CommandResult {
  workflowId: string;
  internalName: string;
  decision: CommandDecision;
}

export interface WorkflowReport {
  workflowId: string;
  internalName: string;
  runId: number;
  state: WorkflowState;
  failed: boolean;
  status: string | null;
  variables: Vars;
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

export interface WorkflowEngine {
  /** Applies a command; started work then runs until it waits, or until `until` (epoch ms). */
  command(cmd: WorkflowCommand, options: { until: number }): Promise<CommandResult>;
  /** Instance state, the current run's tasks and the latest log lines. */
  report(workflowId: string, limit: number): Promise<WorkflowReport>;
  /**
   * One pass of the background loop: wakes due waits, runs work left behind (crash, budget), republishes. `busy`:
   * it found something to do; otherwise `nextDueAt` says when it next will (nothing else happening meanwhile).
   */
  tick(options: { until: number }): Promise<{ busy: boolean; nextDueAt?: Date }>;
  /** A PostEvent sent by a script: applied at once; the target's progress continues in the background. */
  postEventFromScript(event: ScriptPostEvent): Promise<void>;
  /** Stops starting work activities and waits for those running (a sandbox closed meanwhile abandons scripts). */
  close(): Promise<void>;
}

/** A fault of the workflow itself (not of the infrastructure): the workflow goes to error, paused. */
class WorkflowFailure extends Error {
  constructor(
    message: string,
    readonly activity: string | null = null,
  ) {
    super(message);
    this.name = 'WorkflowFailure';
  }
}

interface StepResult {
  progressed: boolean;
  stateChanged: boolean;
  /** A work activity claimed by this step: to run now, outside the transaction. */
  work?: WorkItem;
  /** Only work activities are left and this drain does not run them: the background runner does. */
  deferred?: boolean;
}

const ACTIVITY_LABELS: Record<string, string> = { js: 'JavaScript activity', query: 'query activity', update: 'update activity', delivery: 'delivery activity' };

/**
 * The workflow engine. Each step is one transaction on the cloud DB that first locks the workflow's
 * instance row: replicas (and the command path and the timer loop of one replica) take turns on a
 * workflow, and a crash loses at most the uncommitted step, which runs again — a task committed as done
 * never runs twice. State changes are published after commit (workflow-state.publisher.ts).
 */
export function createWorkflowEngine(deps: {
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
  now?: () => Date;
}): WorkflowEngine {
  const { store, limits } = deps;
  const deliveryPollMs = limits.deliveryPollMs ?? 1_000;
  // Work activities running in this process, by task id: Stop interrupts them (abort).
  const runningWork = new Map<string, { workflowId: string; controller: AbortController }>();
  const logger = deps.logger.child({ module: 'workflow-engine' });
  const clock = deps.now ?? (() => new Date());
  const definitions = new Map<string, WorkflowDefinition>();
  // Work activities run in the background, at most `workConcurrency` workflows at once, one drain per workflow.
  const activeDrains = new Map<string, Promise<void>>();
  const kickAgain = new Set<string>();
  const kickQueue: string[] = [];
  let closed = false;

  /** The run's definition (parsed once per run; a run keeps the definition it started with). */
  const definitionOf = (inst: WorkflowInstance): WorkflowDefinition => {
    const key = `${inst.workflowId}:${inst.runId}`;
    const cached = definitions.get(key);
    if (cached) return cached;
    const parsed = parseWorkflowDefinition(inst.definitionXml, deps.schemas ? { schemas: deps.schemas } : {});
    if (!parsed.ok) throw new WorkflowFailure(`the definition of run ${inst.runId} cannot be read: ${parsed.problems[0]!.message}`);
    remember(key, parsed.definition);
    return parsed.definition;
  };
  const remember = (key: string, definition: WorkflowDefinition) => {
    if (definitions.size >= 500) definitions.delete(definitions.keys().next().value!);
    definitions.set(key, definition);
  };

  const publishQuietly = async (workflowId: string) => {
    try {
      await deps.publisher.publish(workflowId);
    } catch (err) {
      // The state is committed; the timer loop publishes it again.
      logger.warn({ event: 'workflow.publish_failed', workflowId, err }, 'workflow state not published yet; will retry');
    }
  };

  const activityOf = (def: WorkflowDefinition, name: string): Activity => {
    const activity = def.byName.get(name);
    if (!activity) throw new WorkflowFailure(`activity '${name}' is not in the run's definition`, name);
    return activity;
  };

  // Instances (one object per transaction) that just got a pending task: their run cannot be over yet.
  const hasPendingTask = new WeakSet<WorkflowInstance>();

  /** Follows transitions: a task per target; an and-join collects its transitions in one task. */
  const fire = async (tx: WorkflowTransaction, inst: WorkflowInstance, def: WorkflowDefinition, fires: Fire[]) => {
    for (const f of fires) {
      if (inst.taskCount >= limits.maxTasksPerRun) {
        throw new WorkflowFailure(`the run created more than ${limits.maxTasksPerRun} tasks (a loop without end?)`, f.transition.target);
      }
      const target = activityOf(def, f.transition.target);
      if (target.type !== 'andjoin') {
        await tx.insertTask(inst, { activity: target.name, activityType: target.type, status: 'pending', vars: f.vars });
        hasPendingTask.add(inst);
        continue;
      }
      const open = await tx.findOpenJoin(inst, target.name, f.transition.key);
      const arrived = [...(open?.arrived ?? []), f.transition.key];
      const status = isJoinComplete(def, target.name, arrived) ? 'pending' : 'waiting';
      // Event variables of the branches are merged (a later branch wins on a conflict, as in Campaign: undefined).
      if (open) await tx.updateTask(open.id, { arrived, vars: { ...open.vars, ...f.vars }, status });
      else await tx.insertTask(inst, { activity: target.name, activityType: target.type, status, vars: f.vars, arrived });
    }
  };

  /** After a step: a run with no task left that can progress is finished. */
  const settle = async (tx: WorkflowTransaction, inst: WorkflowInstance): Promise<boolean> => {
    if (inst.state !== WORKFLOW_STATE.started || hasPendingTask.has(inst)) return false;
    const active = await tx.countActive(inst);
    if (active.busy > 0) return false;
    for (const join of active.openJoins) await tx.log(inst, 'warning', join, 'and-join never received all its transitions');
    if (active.openJoins.length > 0) await tx.cancelActiveTasks(inst.workflowId);
    await tx.dropWorkTables(inst.workflowId);
    await tx.updateInstance(inst.workflowId, { state: WORKFLOW_STATE.finished, status: 'Finished', finishedAt: clock() }, { stateChanged: true });
    inst.state = WORKFLOW_STATE.finished;
    await tx.log(inst, 'info', null, 'Workflow finished');
    logger.info({ event: 'workflow.finished', workflowId: inst.workflowId, internalName: inst.internalName, runId: inst.runId }, 'workflow finished');
    return true;
  };

  const runTask = async (tx: WorkflowTransaction, inst: WorkflowInstance, def: WorkflowDefinition, task: WorkflowTask) => {
    const activity = activityOf(def, task.activity);
    const outcome = planActivity(activity, { vars: task.vars, instanceVars: inst.variables, now: clock() });
    switch (outcome.kind) {
      case 'done':
        await tx.updateTask(task.id, { status: 'done' });
        if (activity.type === 'test' || activity.type === 'end') await tx.log(inst, 'info', activity.name, outcome.note ?? 'done');
        await fire(tx, inst, def, outcome.fire);
        return;
      case 'waitSignal':
        await tx.updateTask(task.id, { status: 'waiting' });
        await tx.log(inst, 'info', activity.name, 'waiting for a signal');
        return;
      case 'waitUntil':
        await tx.updateTask(task.id, { status: 'waiting', wakeAt: outcome.wakeAt });
        await tx.log(inst, 'info', activity.name, `waiting until ${outcome.wakeAt.toISOString()}`);
        return;
      case 'work':
        throw new Error(`work activity ${activity.name} reached runTask`); // step() claims work activities
    }
  };

  /** A signal reaching its external activity: its transitions fire; `complete` ends the task. */
  const applySignal = async (tx: WorkflowTransaction, inst: WorkflowInstance, def: WorkflowDefinition, task: WorkflowTask, signal: Omit<WorkflowSignal, 'id'>) => {
    const activity = activityOf(def, task.activity);
    const plan = planSignal(activity, signal.transition, task.vars, signal.vars);
    if (!plan.ok) throw new WorkflowFailure(`signal for '${activity.name}' cannot be applied (${plan.reason})`, activity.name);
    if (signal.complete) await tx.updateTask(task.id, { status: 'done' });
    const names = Object.keys(signal.vars);
    await tx.log(inst, 'info', activity.name, `signal received${signal.transition ? ` on transition '${signal.transition}'` : ''}${names.length > 0 ? ` with variables ${names.join(', ')}` : ''}${signal.complete ? ' (complete)' : ''}`);
    await fire(tx, inst, def, plan.fire);
  };

  /**
   * One unit of work on a locked, started workflow: a queued signal, a due wait, or a pending task. A work
   * activity is only claimed (running, with a lease) when `claimWork`: the caller runs it after the commit.
   */
  const step = async (tx: WorkflowTransaction, inst: WorkflowInstance, claimWork: boolean): Promise<StepResult> => {
    if (inst.state === WORKFLOW_STATE.stopping) return { progressed: false, stateChanged: await finishStop(tx, inst) };
    if (inst.state !== WORKFLOW_STATE.started) return { progressed: false, stateChanged: false };
    const def = definitionOf(inst);
    const signal = await tx.nextPendingSignal(inst);
    if (signal) {
      const task = await tx.findWaitingSignalTask(inst, signal.activity);
      if (task) {
        await applySignal(tx, inst, def, task, signal);
        await tx.markSignal(signal.id, 'processed');
      } else {
        await tx.markSignal(signal.id, 'ignored');
        await tx.log(inst, 'warning', signal.activity, 'queued signal ignored: the activity no longer waits for a signal');
      }
      return { progressed: true, stateChanged: await settle(tx, inst) };
    }
    const due = await tx.nextDueWait(inst, clock());
    if (due) {
      const dueActivity = activityOf(def, due.activity);
      if (dueActivity.type === 'delivery') return checkDelivery(tx, inst, def, dueActivity, due);
      await tx.updateTask(due.id, { status: 'done' });
      await tx.log(inst, 'info', due.activity, 'wait over');
      await fire(tx, inst, def, planWakeUp(activityOf(def, due.activity), due.vars));
      return { progressed: true, stateChanged: await settle(tx, inst) };
    }
    const now = clock();
    const task = await tx.nextPendingTask(inst, now, claimWork ? [] : WORK_ACTIVITY_TYPES);
    if (task) {
      const activity = activityOf(def, task.activity);
      if (isWorkActivity(activity.type)) {
        const attempt = await tx.claimTask(task.id, new Date(now.getTime() + limits.taskLeaseMs));
        if (task.status === 'running') {
          await tx.log(inst, 'warning', activity.name, `the engine running this activity stopped before it finished; it runs again (attempt ${attempt})`);
        }
        return {
          progressed: true,
          stateChanged: false,
          work: { workflowId: inst.workflowId, internalName: inst.internalName, runId: inst.runId, task, attempt, activity, instanceVars: inst.variables },
        };
      }
      await runTask(tx, inst, def, task);
      return { progressed: true, stateChanged: await settle(tx, inst) };
    }
    if (!claimWork && (await tx.nextPendingTask(inst, now))) return { progressed: false, stateChanged: false, deferred: true };
    return { progressed: false, stateChanged: await settle(tx, inst) };
  };

  /** Puts the locked workflow in error: paused, @failed set, the message in @status and in its log. */
  const markFailed = async (tx: WorkflowTransaction, inst: WorkflowInstance, message: string, activity: string | null) => {
    const status = `Error: ${message}`.slice(0, 255);
    await tx.updateInstance(inst.workflowId, { state: WORKFLOW_STATE.paused, failed: true, status }, { stateChanged: true });
    inst.state = WORKFLOW_STATE.paused;
    await tx.log(inst, 'error', activity, message);
  };

  /**
   * A Stop waiting for running activities to be interrupted (state 15): once none may still be running (each
   * was interrupted and released, or its engine died and its lease ran out) the run is finished.
   */
  const finishStop = async (tx: WorkflowTransaction, inst: WorkflowInstance): Promise<boolean> => {
    if (inst.state !== WORKFLOW_STATE.stopping) return false;
    if ((await tx.countInterrupting(inst.workflowId, clock())) > 0) return false;
    await tx.dropWorkTables(inst.workflowId);
    await tx.updateInstance(inst.workflowId, { state: WORKFLOW_STATE.finished, status: 'Stopped', finishedAt: clock() }, { stateChanged: true });
    inst.state = WORKFLOW_STATE.finished;
    await tx.log(inst, 'info', null, 'Workflow stopped');
    logger.info({ event: 'workflow.stopped', workflowId: inst.workflowId, internalName: inst.internalName }, 'workflow stopped');
    return true;
  };

  /**
   * A work activity that failed (the task is over): its "error" transition when it has one (a warning in the
   * log), else Campaign's rule — the workflow is suspended in error and a new task of the activity waits for
   * Resume, which runs it again. Returns whether the workflow's state changed.
   */
  const recordFailure = async (tx: WorkflowTransaction, inst: WorkflowInstance, def: WorkflowDefinition, activity: Activity, task: WorkflowTask, code: string, message: string) => {
    await tx.updateTask(task.id, { status: 'failed', leaseUntil: null });
    const onError = planWorkDone(activity, 'failed', task.vars);
    if (onError.length > 0) {
      await tx.log(inst, 'warning', activity.name, `${message}; following its error transition`);
      await fire(tx, inst, def, onError);
      return settle(tx, inst);
    }
    await tx.insertTask(inst, { activity: activity.name, activityType: activity.type, status: 'pending', vars: task.vars });
    if (inst.state === WORKFLOW_STATE.started) await markFailed(tx, inst, message, activity.name);
    else await tx.log(inst, 'error', activity.name, message);
    logger.warn({ event: 'workflow.failed', workflowId: inst.workflowId, activity: activity.name, code }, 'workflow in error (paused)');
    return inst.state === WORKFLOW_STATE.paused;
  };

  /** A delivery activity's waiting task, woken to look at its delivery: over (done or failed) or wait again. */
  const checkDelivery = async (tx: WorkflowTransaction, inst: WorkflowInstance, def: WorkflowDefinition, activity: Activity, task: WorkflowTask): Promise<StepResult> => {
    const deliveryId = String(task.taskVars['deliveryId'] ?? '');
    const status = deliveryId !== '' && deps.deliveries ? await deps.deliveries.status(deliveryId) : undefined;
    const check = planDeliveryCheck(deliveryId, status);
    if (check.kind === 'wait') {
      await tx.updateTask(task.id, { wakeAt: new Date(clock().getTime() + deliveryPollMs) });
      return { progressed: false, stateChanged: false };
    }
    if (check.kind === 'failed') {
      const message = `${ACTIVITY_CODES.delivery} delivery activity '${activity.name}': ${check.message}`;
      return { progressed: true, stateChanged: await recordFailure(tx, inst, def, activity, task, ACTIVITY_CODES.delivery, message) };
    }
    await tx.updateTask(task.id, { status: 'done', wakeAt: null, taskVars: check.taskVars });
    await tx.log(inst, 'info', activity.name, check.note);
    await fire(tx, inst, def, planWorkDone(activity, 'done', deliveryOutputVars(task.vars, deliveryId)));
    return { progressed: true, stateChanged: await settle(tx, inst) };
  };

  /**
   * Records what a work activity did, if its claim is still this engine's (Stop, a new run or a takeover by
   * another replica make the result moot): its log lines, then done (instance variables merged, transitions
   * fired with its output variables) or failed (its "error" transition, else the workflow goes to error and
   * Resume runs the activity again). Returns whether the workflow's state changed, and the next work activity
   * when it could be claimed in the same transaction (a chain of scripts then costs one transaction less each).
   */
  const completeWork = async (work: WorkItem, outcome: WorkOutcome): Promise<{ stateChanged: boolean; next?: WorkItem }> =>
    store.transaction(async (tx) => {
      const inst = await tx.lockInstance(work.workflowId, { wait: true });
      const activity = work.activity;
      const current = inst && inst.runId === work.runId ? await tx.findTask(work.task.id) : undefined;
      if (!inst || !current || current.status !== 'running' || current.attempt !== work.attempt) {
        logger.info({ event: 'workflow.work.discarded', workflowId: work.workflowId, activity: activity.name, status: current?.status }, 'activity result discarded: its task was cancelled or taken over');
        if (!inst || current?.status !== 'cancelled' || current.attempt !== work.attempt) return { stateChanged: false };
        // Cancelled by Stop: this engine no longer runs it (the claim is released), and the Stop may now be complete.
        await tx.updateTask(work.task.id, { leaseUntil: null });
        if (outcome.kind === 'cancelled') {
          await tx.logMany(inst, activity.name, outcome.logs);
          await tx.log(inst, 'info', activity.name, `${ACTIVITY_CODES.stopped} ${ACTIVITY_LABELS[activity.type] ?? 'activity'} '${activity.name}': ${outcome.message}${outcome.line !== undefined ? ` (line ${outcome.line})` : ''}`);
        } else if (outcome.kind === 'waitDelivery') {
          await tx.log(inst, 'warning', activity.name, `${outcome.note}; its task was cancelled: the delivery goes on, the workflow no longer waits for it`);
        } else await tx.log(inst, 'warning', activity.name, 'the activity finished after its task was cancelled: its result is discarded');
        return { stateChanged: await finishStop(tx, inst) };
      }
      await tx.logMany(inst, activity.name, outcome.logs);
      if (outcome.kind === 'abandoned' || outcome.kind === 'cancelled') {
        // Not run to its end (shutdown, or interrupted though its task is still claimed): it runs again.
        await tx.updateTask(work.task.id, { status: 'pending', leaseUntil: null });
        return { stateChanged: false };
      }
      const def = definitionOf(inst);
      if (outcome.kind === 'waitDelivery') {
        await tx.updateTask(work.task.id, {
          status: 'waiting',
          leaseUntil: null,
          wakeAt: new Date(clock().getTime() + deliveryPollMs),
          taskVars: { deliveryId: outcome.deliveryId, deliveryName: outcome.deliveryName },
        });
        await tx.log(inst, 'info', activity.name, outcome.note);
        return { stateChanged: false };
      }
      if (outcome.kind === 'done') {
        if (outcome.instanceVars && (Object.keys(outcome.instanceVars.set).length > 0 || outcome.instanceVars.unset.length > 0)) {
          inst.variables = await tx.mergeInstanceVars(inst.workflowId, outcome.instanceVars.set, outcome.instanceVars.unset);
        }
        await tx.updateTask(work.task.id, { status: 'done', leaseUntil: null, ...(outcome.taskVars ? { taskVars: outcome.taskVars } : {}) });
        await tx.log(inst, 'info', activity.name, outcome.note);
        await fire(tx, inst, def, planWorkDone(activity, 'done', outcome.vars));
        const stateChanged = await settle(tx, inst);
        const next = stateChanged ? undefined : await claimNextWork(tx, inst, def);
        return { stateChanged, ...(next ? { next } : {}) };
      }
      const message = `${outcome.code} ${ACTIVITY_LABELS[activity.type] ?? 'activity'} '${activity.name}': ${outcome.message}${outcome.line !== undefined ? ` (line ${outcome.line})` : ''}`;
      return { stateChanged: await recordFailure(tx, inst, def, activity, work.task, outcome.code, message) };
    });

  /**
   * In the transaction that completed a work activity: claims the next one when nothing else comes first (no
   * queued signal, no due wait, and the oldest pending task is a work activity) — what step() would do next.
   */
  const claimNextWork = async (tx: WorkflowTransaction, inst: WorkflowInstance, def: WorkflowDefinition): Promise<WorkItem | undefined> => {
    if (inst.state !== WORKFLOW_STATE.started || closed) return undefined;
    if (await tx.nextPendingSignal(inst)) return undefined;
    const now = clock();
    if (await tx.nextDueWait(inst, now)) return undefined;
    const task = await tx.nextPendingTask(inst, now);
    const activity = task ? def.byName.get(task.activity) : undefined;
    if (!task || !activity || !isWorkActivity(activity.type)) return undefined;
    const attempt = await tx.claimTask(task.id, new Date(now.getTime() + limits.taskLeaseMs));
    return { workflowId: inst.workflowId, internalName: inst.internalName, runId: inst.runId, task, attempt, activity, instanceVars: inst.variables };
  };

  /** Runs claimed work activities one after the other (each completion may claim the next), renewing leases. */
  const executeWork = async (first: WorkItem) => {
    let work: WorkItem | undefined = first;
    while (work) work = await executeOne(work);
  };

  /** Runs one claimed work activity, renewing its lease meanwhile, then records the outcome. */
  const executeOne = async (work: WorkItem): Promise<WorkItem | undefined> => {
    // Renews the claim, and checks every second that it still holds: a Stop served by any replica cancels the
    // task, and the activity is interrupted (a Stop served here aborts it at once).
    const controller = new AbortController();
    runningWork.set(work.task.id, { workflowId: work.workflowId, controller });
    const renewEveryMs = Math.max(500, Math.floor(limits.taskLeaseMs / 3));
    let renewedAt = Date.now();
    const watch = async () => {
      const renew = Date.now() - renewedAt >= renewEveryMs;
      const claimed = renew ? await store.renewLease(work.task.id, work.attempt, new Date(clock().getTime() + limits.taskLeaseMs)) : await store.isClaimed(work.task.id, work.attempt);
      if (renew && claimed) renewedAt = Date.now();
      if (!claimed && !controller.signal.aborted) {
        logger.info({ event: 'workflow.work.interrupted', workflowId: work.workflowId, activity: work.activity.name }, 'activity interrupted: its task is no longer claimed');
        controller.abort();
      }
    };
    const renew = setInterval(
      () => void watch().catch((err: unknown) => logger.warn({ event: 'workflow.lease_renewal_failed', workflowId: work.workflowId, err }, 'lease of a running activity not renewed')),
      Math.min(1_000, renewEveryMs),
    );
    let outcome: WorkOutcome;
    try {
      outcome = deps.runner
        ? await deps.runner.run(work, { signal: controller.signal })
        : { kind: 'failed', code: ACTIVITY_CODES.sandbox, message: 'this engine runs no work activities', logs: [] };
    } catch (err) {
      logger.error({ event: 'workflow.work.crashed', workflowId: work.workflowId, activity: work.activity.name, err }, 'work activity failed unexpectedly');
      outcome = { kind: 'failed', code: ACTIVITY_CODES.sandbox, message: `failed unexpectedly: ${err instanceof Error ? err.message : String(err)}`, logs: [] };
    } finally {
      clearInterval(renew);
      runningWork.delete(work.task.id);
    }
    const done = await completeWork(work, outcome);
    if (done.stateChanged) await publishQuietly(work.workflowId);
    return done.next;
  };

  /** The workflow goes to error: paused, @failed set, the message in @status and in its log. */
  const failWorkflow = async (workflowId: string, failure: WorkflowFailure) => {
    await store.transaction(async (tx) => {
      const inst = await tx.lockInstance(workflowId, { wait: true });
      if (!inst || inst.state !== WORKFLOW_STATE.started) return;
      await markFailed(tx, inst, failure.message, failure.activity);
    });
    logger.warn({ event: 'workflow.failed', workflowId, reason: failure.message }, 'workflow in error (paused)');
    await publishQuietly(workflowId);
  };

  /**
   * Runs steps on a workflow until it has nothing to do, or the budget is spent (the timer loop goes on).
   * With `claimWork`, work activities are claimed and run here; without, the drain stops at them and hands
   * the workflow to the background runner (kick), so a command or the timer loop never waits for a script.
   */
  const drain = async (workflowId: string, options: { until: number; wait: boolean; claimWork: boolean }) => {
    for (let i = 0; i < limits.maxStepsPerDrain && Date.now() < options.until; i++) {
      let result: StepResult | undefined;
      try {
        result = await store.transaction(async (tx) => {
          const inst = await tx.lockInstance(workflowId, { wait: options.wait });
          return inst ? step(tx, inst, options.claimWork) : undefined; // undefined: another engine holds it (it drains it)
        });
        if (result?.work) await executeWork(result.work);
      } catch (err) {
        if (!(err instanceof WorkflowFailure)) throw err;
        await failWorkflow(workflowId, err);
        return;
      }
      if (!result) return;
      if (result.stateChanged) await publishQuietly(workflowId);
      if (result.deferred) {
        kick(workflowId);
        return;
      }
      if (!result.progressed) return;
    }
  };

  const kick = (workflowId: string) => {
    if (closed) return;
    if (activeDrains.has(workflowId)) {
      kickAgain.add(workflowId);
      return;
    }
    if (activeDrains.size >= limits.workConcurrency) {
      if (!kickQueue.includes(workflowId)) kickQueue.push(workflowId);
      return;
    }
    const running = drain(workflowId, { until: Date.now() + 60_000, wait: false, claimWork: true })
      .catch((err: unknown) => logger.warn({ event: 'workflow.drain_failed', workflowId, err }, 'workflow step failed; retried on the next tick'))
      .finally(() => {
        activeDrains.delete(workflowId);
        if (kickAgain.delete(workflowId)) kick(workflowId);
        const next = kickQueue.shift();
        if (next !== undefined) kick(next);
      });
    activeDrains.set(workflowId, running);
  };

  const startRun = async (tx: WorkflowTransaction, inst: WorkflowInstance, record: WorkflowRecord, def: WorkflowDefinition, parameters: Vars | undefined) => {
    await tx.cancelActiveTasks(inst.workflowId);
    await tx.dropWorkTables(inst.workflowId);
    const runId = inst.runId + 1;
    const variables = parameters ?? {}; // Start clears the instance variables
    await tx.updateInstance(
      inst.workflowId,
      { runId, state: WORKFLOW_STATE.started, failed: false, status: 'Started', definitionXml: record.activities, internalName: record.internalName, variables, taskCount: 0, startedAt: clock(), finishedAt: null },
      { stateChanged: true },
    );
    Object.assign(inst, { runId, state: WORKFLOW_STATE.started, variables, taskCount: 0, definitionXml: record.activities, internalName: record.internalName });
    remember(`${inst.workflowId}:${runId}`, def);
    const names = Object.keys(variables);
    await tx.log(inst, 'info', null, `Workflow started (run ${runId})${names.length > 0 ? ` with parameters ${names.join(', ')}` : ''}`);
    for (const start of def.activities.filter((a) => a.type === 'start')) {
      await tx.insertTask(inst, { activity: start.name, activityType: start.type, status: 'pending', vars: {} });
    }
  };

  const resume = async (tx: WorkflowTransaction, inst: WorkflowInstance, parameters: Vars | undefined) => {
    const variables = parameters ? { ...inst.variables, ...parameters } : undefined;
    await tx.updateInstance(inst.workflowId, { state: WORKFLOW_STATE.started, failed: false, status: 'Started', ...(variables ? { variables } : {}) }, { stateChanged: true });
    inst.state = WORKFLOW_STATE.started;
    await tx.log(inst, 'info', null, 'Workflow resumed');
  };

  const postEvent = async (tx: WorkflowTransaction, inst: WorkflowInstance, cmd: Extract<WorkflowCommand, { command: 'postEvent' }>, queued: boolean) => {
    const def = definitionOf(inst);
    const activity = def.byName.get(cmd.activity);
    if (!activity) throw WORKFLOW_FAULTS.notWaiting(inst.internalName, cmd.activity, 'the workflow has no such activity');
    if (activity.type !== 'external') throw WORKFLOW_FAULTS.notWaiting(inst.internalName, cmd.activity, `it is a ${activity.type} activity, not an external signal`);
    const plan = planSignal(activity, cmd.transition, {}, cmd.parameters);
    if (!plan.ok && plan.reason === 'unknownTransition') throw WORKFLOW_FAULTS.unknownTransition(inst.internalName, activity.name, cmd.transition, plan.known);
    const task = await tx.findWaitingSignalTask(inst, activity.name);
    if (!task) throw WORKFLOW_FAULTS.notWaiting(inst.internalName, activity.name, 'the workflow has not reached it, or it has already received its signal');
    const signal = { activity: activity.name, transition: cmd.transition, vars: cmd.parameters, complete: cmd.complete };
    if (queued) {
      await tx.insertSignal(inst, signal, 'pending');
      await tx.log(inst, 'info', activity.name, 'signal queued: the workflow is paused');
      return false;
    }
    await tx.insertSignal(inst, signal, 'processed');
    await applySignal(tx, inst, def, task, signal);
    return settle(tx, inst);
  };

  /** The templates of the delivery activities: each must exist and be sendable (a fault at Start, as in SubmitDelivery). */
  const checkDeliveryTemplates = async (def: WorkflowDefinition): Promise<{ code: string; message: string }[]> => {
    const problems: { code: string; message: string }[] = [];
    for (const a of def.activities) {
      if (a.type !== 'delivery' || !a.delivery) continue;
      if (!deps.deliveries) {
        problems.push({ code: DEFINITION_CODES.deliveryTemplate, message: `delivery activity '${a.name}': this engine has no delivery module` });
        continue;
      }
      try {
        await deps.deliveries.checkTemplate(a.delivery.template, { templateTarget: a.delivery.target === 'template' });
      } catch (err) {
        if (!isDeliveryError(err)) throw err;
        problems.push({ code: DEFINITION_CODES.deliveryTemplate, message: `delivery activity '${a.name}': ${err.message}` });
      }
    }
    return problems;
  };

  const startCommand = async (cmd: Extract<WorkflowCommand, { command: 'start' | 'startWithParameters' }>, record: WorkflowRecord) => {
    const parameters = cmd.command === 'startWithParameters' ? cmd.parameters : undefined;
    const parsed = parseWorkflowDefinition(record.activities, deps.schemas ? { schemas: deps.schemas } : {});
    const templateProblems = parsed.ok ? await checkDeliveryTemplates(parsed.definition) : [];
    return store.transaction(async (tx) => {
      await tx.ensureInstance(record.id, record.internalName);
      const inst = (await tx.lockInstance(record.id, { wait: true }))!;
      const decision = decideCommand(inst.state, cmd.command);
      if (decision === 'faultAlreadyStarted') throw WORKFLOW_FAULTS.alreadyStarted(inst.internalName);
      if (decision === 'resume') await resume(tx, inst, parameters);
      else {
        if (!parsed.ok) throw WORKFLOW_FAULTS.invalidDefinition(record.internalName, parsed.problems);
        if (templateProblems.length > 0) throw WORKFLOW_FAULTS.invalidDefinition(record.internalName, templateProblems);
        await startRun(tx, inst, record, parsed.definition, parameters);
      }
      return { decision, stateChanged: true };
    });
  };

  const otherCommand = async (cmd: Exclude<WorkflowCommand, { command: 'start' | 'startWithParameters' }>, workflowId: string) =>
    store.transaction(async (tx) => {
      const inst = (await tx.lockInstance(workflowId, { wait: true }))!;
      const decision = decideCommand(inst.state, cmd.command);
      switch (decision) {
        case 'faultNotStarted':
          throw WORKFLOW_FAULTS.notStarted(inst.internalName, inst.state);
        case 'pause':
          await tx.updateInstance(workflowId, { state: WORKFLOW_STATE.paused, status: 'Paused' }, { stateChanged: true });
          await tx.log(inst, 'info', null, 'Workflow paused');
          return { decision, stateChanged: true };
        case 'resume':
          await resume(tx, inst, undefined);
          return { decision, stateChanged: true };
        case 'stop': {
          if (inst.state === WORKFLOW_STATE.stopping) return { decision, stateChanged: await finishStop(tx, inst) };
          const cancelled = await tx.cancelActiveTasks(workflowId);
          const interrupting = await tx.countInterrupting(workflowId, clock());
          if (interrupting > 0) {
            // Work activities are running (here or on another replica): "stop requested" until they are interrupted.
            await tx.updateInstance(workflowId, { state: WORKFLOW_STATE.stopping, status: 'Stop requested' }, { stateChanged: true });
            await tx.log(inst, 'info', null, `Stop requested (${cancelled} active task${cancelled > 1 ? 's' : ''} cancelled; interrupting ${interrupting} running activit${interrupting > 1 ? 'ies' : 'y'})`);
            return { decision, stateChanged: true };
          }
          await tx.dropWorkTables(workflowId);
          await tx.updateInstance(workflowId, { state: WORKFLOW_STATE.finished, status: 'Stopped', finishedAt: clock() }, { stateChanged: true });
          await tx.log(inst, 'info', null, `Workflow stopped${cancelled > 0 ? ` (${cancelled} active task${cancelled > 1 ? 's' : ''} cancelled)` : ''}`);
          return { decision, stateChanged: true };
        }
        case 'signalNow':
        case 'signalQueued':
          if (cmd.command !== 'postEvent') throw new Error(`decision ${decision} for ${cmd.command}`);
          return { decision, stateChanged: await postEvent(tx, inst, cmd, decision === 'signalQueued') };
        default:
          return { decision, stateChanged: false };
      }
    });

  /** Aborts the work activities of a workflow that run in this process (those elsewhere notice within a second). */
  const interruptLocalWork = (workflowId: string) => {
    for (const w of runningWork.values()) if (w.workflowId === workflowId) w.controller.abort();
  };

  const engine: WorkflowEngine = {
    command: (cmd, options) => runCommand(cmd, options).catch(asCampaignFault),
    report: (workflowId, limit) => readReport(workflowId, limit).catch(asCampaignFault),
    tick,
    postEventFromScript,
    close,
  };
  async function runCommand(cmd: WorkflowCommand, options: { until: number }): Promise<CommandResult> {
    const ref = parseWorkflowRef(cmd.workflowId);
    if (!ref) throw WORKFLOW_FAULTS.unknownWorkflow(cmd.workflowId);
    let target: { workflowId: string; internalName: string };
    let outcome: { decision: CommandDecision; stateChanged: boolean };
    if (cmd.command === 'start' || cmd.command === 'startWithParameters') {
      const record = await deps.definitions.find(ref);
      if (!record) throw WORKFLOW_FAULTS.unknownWorkflow(describeRef(ref));
      target = { workflowId: record.id, internalName: record.internalName };
      outcome = await startCommand(cmd, record);
    } else {
      const known = await store.findInstance(ref);
      if (!known) {
        // Never ran here: unknown, or not started (Stop has nothing to do).
        const record = await deps.definitions.find(ref);
        if (!record) throw WORKFLOW_FAULTS.unknownWorkflow(describeRef(ref));
        const decision = decideCommand(WORKFLOW_STATE.edition, cmd.command);
        if (decision === 'faultNotStarted') throw WORKFLOW_FAULTS.notStarted(record.internalName, WORKFLOW_STATE.edition);
        return { workflowId: record.id, internalName: record.internalName, decision };
      }
      target = known;
      outcome = await otherCommand(cmd, known.workflowId);
      if (outcome.decision === 'stop') interruptLocalWork(known.workflowId);
    }
    logger.info({ event: 'workflow.command', command: cmd.command, workflowId: target.workflowId, internalName: target.internalName, decision: outcome.decision }, `workflow ${cmd.command}`);
    if (outcome.stateChanged) await publishQuietly(target.workflowId);
    if (outcome.decision === 'newRun' || outcome.decision === 'resume' || outcome.decision === 'signalNow') {
      // The command is committed: what follows is the workflow's own progress (the timer loop finishes it if need be).
      await drain(target.workflowId, { until: options.until, wait: true, claimWork: false }).catch((err: unknown) =>
        logger.warn({ event: 'workflow.drain_failed', workflowId: target.workflowId, err }, 'workflow progress deferred to the timer loop'),
      );
    }
    return { ...target, decision: outcome.decision };
  }

  async function readReport(workflowId: string, limit: number): Promise<WorkflowReport> {
    const ref = parseWorkflowRef(workflowId);
    if (!ref) throw WORKFLOW_FAULTS.unknownWorkflow(workflowId);
    const known = await store.findInstance(ref);
    const data = known ? await store.readReport(known.workflowId, limit) : undefined;
    if (!data) {
      const record = await deps.definitions.find(ref);
      if (!record) throw WORKFLOW_FAULTS.unknownWorkflow(describeRef(ref));
      return { workflowId: record.id, internalName: record.internalName, runId: 0, state: WORKFLOW_STATE.edition, failed: false, status: null, variables: {}, tasks: [], log: [] };
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
  }

  async function tick(options: { until: number }): Promise<{ busy: boolean; nextDueAt?: Date }> {
    const runnable = await store.findRunnable(clock(), 50);
    for (const workflowId of runnable) {
      if (Date.now() >= options.until) break;
      if (activeDrains.has(workflowId)) continue; // its background drain is at it
      await drain(workflowId, { until: options.until, wait: false, claimWork: false }).catch((err: unknown) =>
        logger.warn({ event: 'workflow.drain_failed', workflowId, err }, 'workflow step failed; retried on the next tick'),
      );
    }
    const unpublished = await store.findUnpublished(50);
    for (const workflowId of unpublished) await publishQuietly(workflowId);
    if (runnable.length > 0 || unpublished.length > 0 || activeDrains.size > 0) return { busy: true };
    const nextDueAt = await store.nextDueAt();
    return nextDueAt ? { busy: false, nextDueAt } : { busy: false };
  }

  async function postEventFromScript(event: ScriptPostEvent): Promise<void> {
    const result = await engine.command(
      { command: 'postEvent', workflowId: event.workflowId, activity: event.activity, transition: event.transition, parameters: event.parameters, complete: event.complete },
      { until: 0 },
    );
    kick(result.workflowId);
  }

  async function close(): Promise<void> {
    closed = true;
    kickQueue.splice(0);
    kickAgain.clear();
    await Promise.allSettled([...activeDrains.values()]);
  }
  return engine;
}

/** A command's WorkflowFault, answered as Campaign faults are (its WKF code, SOAP-ENV:Client). */
function asCampaignFault(err: unknown): never {
  throw isWorkflowFault(err) ? campaignError(err.code, err.message) : err;
}
