import {
  ACTIVITY_CODES,
  isJoinComplete,
  isWorkActivity,
  planActivity,
  planSignal,
  planWakeUp,
  planWorkDone,
  WORK_ACTIVITY_TYPES,
  WORKFLOW_FAULTS,
  WORKFLOW_STATE,
  type Activity,
  type Fire,
  type WorkflowDefinition,
  type WorkflowInstance,
  type WorkflowSignal,
  type WorkflowTask,
} from '@cap/campaign-workflow';
import type { WorkItem } from './workflow-activity.runner';
import { deliveryOutputVars, planDeliveryCheck } from './workflow-delivery.activity';
import { WorkflowFailure, type EngineContext, type StepResult } from './workflow-engine.context';
import type { EngineReporting } from './workflow-engine.reporting';
import type { WorkflowTransaction } from './workflow.store';

export interface EngineSteps {
  /**
   * One unit of work on a locked, started workflow: a queued signal, a due wait, or a pending task. A work
   * activity is only claimed (running, with a lease) when `claimWork`: the caller runs it after the commit.
   */
  step(tx: WorkflowTransaction, inst: WorkflowInstance, claimWork: boolean): Promise<StepResult>;
  /** Follows transitions: a task per target; an and-join collects its transitions in one task. */
  fire(tx: WorkflowTransaction, inst: WorkflowInstance, def: WorkflowDefinition, fires: Fire[]): Promise<void>;
  /** After a step: a run with no task left that can progress is finished. Returns whether it was. */
  settle(tx: WorkflowTransaction, inst: WorkflowInstance): Promise<boolean>;
  /** A signal reaching its external activity: its transitions fire; `complete` ends the task. */
  applySignal(tx: WorkflowTransaction, inst: WorkflowInstance, def: WorkflowDefinition, task: WorkflowTask, signal: Omit<WorkflowSignal, 'id'>): Promise<void>;
  /** A stopping workflow (15) whose interrupted activities have all stopped is finished (20). */
  finishStop(tx: WorkflowTransaction, inst: WorkflowInstance): Promise<boolean>;
  /** A failed work activity: its "error" transition, else the workflow goes to error. */
  recordFailure(
    tx: WorkflowTransaction,
    inst: WorkflowInstance,
    def: WorkflowDefinition,
    activity: Activity,
    task: WorkflowTask,
    code: string,
    message: string,
  ): Promise<boolean>;
  /** Claims the next work activity in the transaction that completed one, when nothing else comes first. */
  claimNextWork(tx: WorkflowTransaction, inst: WorkflowInstance, def: WorkflowDefinition): Promise<WorkItem | undefined>;
  /** The workflow goes to error (its own transaction, then the state is published). */
  failWorkflow(workflowId: string, failure: WorkflowFailure): Promise<void>;
}

/**
 * Step execution: each step runs in one transaction of the store on a workflow whose instance it has locked,
 * and applies the planner's decisions (@cap/campaign-workflow) to its tasks, signals, state and log.
 */
export function createEngineSteps(ctx: EngineContext, reporting: EngineReporting): EngineSteps {
  const { store, limits, logger, clock, deps, activityOf } = ctx;
  const deliveryPollMs = limits.deliveryPollMs ?? 1_000;

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
  const applySignal = async (
    tx: WorkflowTransaction,
    inst: WorkflowInstance,
    def: WorkflowDefinition,
    task: WorkflowTask,
    signal: Omit<WorkflowSignal, 'id'>,
  ) => {
    const activity = activityOf(def, task.activity);
    const plan = planSignal(activity, signal.transition, task.vars, signal.vars);
    if (!plan.ok) throw new WorkflowFailure(`signal for '${activity.name}' cannot be applied (${plan.reason})`, activity.name);
    if (signal.complete) await tx.updateTask(task.id, { status: 'done' });
    const names = Object.keys(signal.vars).sort(); // a queued signal's variables come back from jsonb in its key order
    await tx.log(
      inst,
      'info',
      activity.name,
      `signal received${signal.transition ? ` on transition '${signal.transition}'` : ''}${names.length > 0 ? ` with variables ${names.join(', ')}` : ''}${signal.complete ? ' (complete)' : ''}`,
    );
    await fire(tx, inst, def, plan.fire);
  };

  /**
   * One unit of work on a locked, started workflow: a queued signal, a due wait, or a pending task. A work
   * activity is only claimed (running, with a lease) when `claimWork`: the caller runs it after the commit.
   */
  const step = async (tx: WorkflowTransaction, inst: WorkflowInstance, claimWork: boolean): Promise<StepResult> => {
    if (inst.state === WORKFLOW_STATE.stopping) return { progressed: false, stateChanged: await finishStop(tx, inst) };
    if (inst.state !== WORKFLOW_STATE.started) return { progressed: false, stateChanged: false };
    const def = ctx.definitionOf(inst);
    const signal = await tx.nextPendingSignal(inst);
    if (signal) {
      const task = await tx.findWaitingSignalTask(inst, signal.activity);
      if (task) {
        await applySignal(tx, inst, def, task, signal);
        await tx.markSignal(signal.id, 'processed');
      } else {
        await tx.markSignal(signal.id, 'ignored');
        // Campaign's "complete": once the signal task is done, later signals find nothing waiting.
        const why = 'the workflow has not reached it, or its signal task is complete';
        await tx.log(inst, 'warning', signal.activity, `signal ignored: ${WORKFLOW_FAULTS.notWaiting(inst.internalName, signal.activity, why).message}`);
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
  const recordFailure: EngineSteps['recordFailure'] = async (tx, inst, def, activity, task, code, message) => {
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
  const checkDelivery = async (
    tx: WorkflowTransaction,
    inst: WorkflowInstance,
    def: WorkflowDefinition,
    activity: Activity,
    task: WorkflowTask,
  ): Promise<StepResult> => {
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
   * In the transaction that completed a work activity: claims the next one when nothing else comes first (no
   * queued signal, no due wait, and the oldest pending task is a work activity) — what step() would do next.
   */
  const claimNextWork = async (tx: WorkflowTransaction, inst: WorkflowInstance, def: WorkflowDefinition): Promise<WorkItem | undefined> => {
    if (inst.state !== WORKFLOW_STATE.started || ctx.closed) return undefined;
    if (await tx.nextPendingSignal(inst)) return undefined;
    const now = clock();
    if (await tx.nextDueWait(inst, now)) return undefined;
    const task = await tx.nextPendingTask(inst, now);
    const activity = task ? def.byName.get(task.activity) : undefined;
    if (!task || !activity || !isWorkActivity(activity.type)) return undefined;
    const attempt = await tx.claimTask(task.id, new Date(now.getTime() + limits.taskLeaseMs));
    return { workflowId: inst.workflowId, internalName: inst.internalName, runId: inst.runId, task, attempt, activity, instanceVars: inst.variables };
  };

  /** The workflow goes to error: paused, @failed set, the message in @status and in its log. */
  const failWorkflow = async (workflowId: string, failure: WorkflowFailure) => {
    await store.transaction(async (tx) => {
      const inst = await tx.lockInstance(workflowId, { wait: true });
      if (!inst || inst.state !== WORKFLOW_STATE.started) return;
      await markFailed(tx, inst, failure.message, failure.activity);
    });
    logger.warn({ event: 'workflow.failed', workflowId, reason: failure.message }, 'workflow in error (paused)');
    await reporting.publishQuietly(workflowId);
  };

  return { step, fire, settle, applySignal, finishStop, recordFailure, claimNextWork, failWorkflow };
}
