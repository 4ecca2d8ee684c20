import type { Logger } from '@cap/platform-logger';
import { describeRef, parseWorkflowRef, type WorkflowDefinitionSource, type WorkflowRecord } from './workflow-definition.source';
import type { WorkflowStatePublisher } from './workflow-state.publisher';
import { decideCommand, isJoinComplete, planActivity, planSignal, planWakeUp, WORKFLOW_STATE, type CommandDecision, type Fire, type Vars, type WorkflowState } from './workflow-step.planner';
import { parseWorkflowDefinition, type Activity, type WorkflowDefinition } from './workflow.definition';
import { WORKFLOW_FAULTS } from './workflow.faults';
import type { LogLine, TaskStatus, WorkflowInstance, WorkflowSignal, WorkflowStore, WorkflowTask, WorkflowTransaction } from './workflow.store';

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
  tasks: { id: string; activity: string; type: string; status: TaskStatus; vars: Vars; wakeAt: string | null; createdAt: string; completedAt: string | null }[];
  log: LogLine[];
}

export interface WorkflowEngineLimits {
  /** Tasks one run may create: a loop without end fails the workflow instead of filling the database. */
  maxTasksPerRun: number;
  /** Steps one drain runs before it leaves the rest to the timer loop. */
  maxStepsPerDrain: number;
}

export interface WorkflowEngine {
  /** Applies a command; started work then runs until it waits, or until `until` (epoch ms). */
  command(cmd: WorkflowCommand, options: { until: number }): Promise<CommandResult>;
  /** Instance state, the current run's tasks and the latest log lines. */
  report(workflowId: string, limit: number): Promise<WorkflowReport>;
  /** One pass of the background loop: wakes due waits, runs work left behind (crash, budget), republishes. */
  tick(options: { until: number }): Promise<void>;
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
}

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
  now?: () => Date;
}): WorkflowEngine {
  const { store, limits } = deps;
  const logger = deps.logger.child({ module: 'workflow-engine' });
  const clock = deps.now ?? (() => new Date());
  const definitions = new Map<string, WorkflowDefinition>();

  /** The run's definition (parsed once per run; a run keeps the definition it started with). */
  const definitionOf = (inst: WorkflowInstance): WorkflowDefinition => {
    const key = `${inst.workflowId}:${inst.runId}`;
    const cached = definitions.get(key);
    if (cached) return cached;
    const parsed = parseWorkflowDefinition(inst.definitionXml);
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

  /** Follows transitions: a task per target; an and-join collects its transitions in one task. */
  const fire = async (tx: WorkflowTransaction, inst: WorkflowInstance, def: WorkflowDefinition, fires: Fire[]) => {
    for (const f of fires) {
      if (inst.taskCount >= limits.maxTasksPerRun) {
        throw new WorkflowFailure(`the run created more than ${limits.maxTasksPerRun} tasks (a loop without end?)`, f.transition.target);
      }
      const target = activityOf(def, f.transition.target);
      if (target.type !== 'andjoin') {
        await tx.insertTask(inst, { activity: target.name, activityType: target.type, status: 'pending', vars: f.vars });
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
    if (inst.state !== WORKFLOW_STATE.started) return false;
    const active = await tx.countActive(inst);
    if (active.busy > 0) return false;
    for (const join of active.openJoins) await tx.log(inst, 'warning', join, 'and-join never received all its transitions');
    if (active.openJoins.length > 0) await tx.cancelActiveTasks(inst.workflowId);
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

  /** One unit of work on a locked, started workflow: a queued signal, a due wait, or a pending task. */
  const step = async (tx: WorkflowTransaction, inst: WorkflowInstance): Promise<StepResult> => {
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
      await tx.updateTask(due.id, { status: 'done' });
      await tx.log(inst, 'info', due.activity, 'wait over');
      await fire(tx, inst, def, planWakeUp(activityOf(def, due.activity), due.vars));
      return { progressed: true, stateChanged: await settle(tx, inst) };
    }
    const task = await tx.nextPendingTask(inst);
    if (task) {
      await runTask(tx, inst, def, task);
      return { progressed: true, stateChanged: await settle(tx, inst) };
    }
    return { progressed: false, stateChanged: await settle(tx, inst) };
  };

  /** The workflow goes to error: paused, @failed set, the message in @status and in its log. */
  const failWorkflow = async (workflowId: string, failure: WorkflowFailure) => {
    await store.transaction(async (tx) => {
      const inst = await tx.lockInstance(workflowId, { wait: true });
      if (!inst || inst.state !== WORKFLOW_STATE.started) return;
      const status = `Error: ${failure.message}`.slice(0, 255);
      await tx.updateInstance(workflowId, { state: WORKFLOW_STATE.paused, failed: true, status }, { stateChanged: true });
      await tx.log(inst, 'error', failure.activity, failure.message);
    });
    logger.warn({ event: 'workflow.failed', workflowId, reason: failure.message }, 'workflow in error (paused)');
    await publishQuietly(workflowId);
  };

  /** Runs steps on a workflow until it has nothing to do, or the budget is spent (the timer loop goes on). */
  const drain = async (workflowId: string, options: { until: number; wait: boolean }) => {
    for (let i = 0; i < limits.maxStepsPerDrain && Date.now() < options.until; i++) {
      let result: StepResult | undefined;
      try {
        result = await store.transaction(async (tx) => {
          const inst = await tx.lockInstance(workflowId, { wait: options.wait });
          return inst ? step(tx, inst) : undefined; // undefined: another engine holds it (it drains it)
        });
      } catch (err) {
        if (!(err instanceof WorkflowFailure)) throw err;
        await failWorkflow(workflowId, err);
        return;
      }
      if (!result) return;
      if (result.stateChanged) await publishQuietly(workflowId);
      if (!result.progressed) return;
    }
  };

  const startRun = async (tx: WorkflowTransaction, inst: WorkflowInstance, record: WorkflowRecord, def: WorkflowDefinition, parameters: Vars | undefined) => {
    await tx.cancelActiveTasks(inst.workflowId);
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

  const startCommand = async (cmd: Extract<WorkflowCommand, { command: 'start' | 'startWithParameters' }>, record: WorkflowRecord) => {
    const parameters = cmd.command === 'startWithParameters' ? cmd.parameters : undefined;
    const parsed = parseWorkflowDefinition(record.activities);
    return store.transaction(async (tx) => {
      await tx.ensureInstance(record.id, record.internalName);
      const inst = (await tx.lockInstance(record.id, { wait: true }))!;
      const decision = decideCommand(inst.state, cmd.command);
      if (decision === 'faultAlreadyStarted') throw WORKFLOW_FAULTS.alreadyStarted(inst.internalName);
      if (decision === 'resume') await resume(tx, inst, parameters);
      else {
        if (!parsed.ok) throw WORKFLOW_FAULTS.invalidDefinition(record.internalName, parsed.problems);
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
          const cancelled = await tx.cancelActiveTasks(workflowId);
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

  return {
    async command(cmd, options) {
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
      }
      logger.info({ event: 'workflow.command', command: cmd.command, workflowId: target.workflowId, internalName: target.internalName, decision: outcome.decision }, `workflow ${cmd.command}`);
      if (outcome.stateChanged) await publishQuietly(target.workflowId);
      if (outcome.decision === 'newRun' || outcome.decision === 'resume' || outcome.decision === 'signalNow') {
        // The command is committed: what follows is the workflow's own progress (the timer loop finishes it if need be).
        await drain(target.workflowId, { until: options.until, wait: true }).catch((err: unknown) =>
          logger.warn({ event: 'workflow.drain_failed', workflowId: target.workflowId, err }, 'workflow progress deferred to the timer loop'),
        );
      }
      return { ...target, decision: outcome.decision };
    },

    async report(workflowId, limit) {
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
        tasks: tasks.map((t) => ({ id: t.id, activity: t.activity, type: t.activityType, status: t.status, vars: t.vars, wakeAt: t.wakeAt?.toISOString() ?? null, createdAt: t.createdAt, completedAt: t.completedAt })),
        log,
      };
    },

    async tick(options) {
      for (const workflowId of await store.findRunnable(clock(), 50)) {
        if (Date.now() >= options.until) break;
        await drain(workflowId, { until: options.until, wait: false }).catch((err: unknown) =>
          logger.warn({ event: 'workflow.drain_failed', workflowId, err }, 'workflow step failed; retried on the next tick'),
        );
      }
      for (const workflowId of await store.findUnpublished(50)) await publishQuietly(workflowId);
    },
  };
}
