import { ACTIVITY_CODES, describeWorkActivity, planWorkDone } from '@cap/campaign-workflow';
import type { WorkItem, WorkOutcome } from './workflow-activity.runner';
import type { EngineContext } from './workflow-engine.context';
import type { EngineReporting } from './workflow-engine.reporting';
import type { EngineSteps } from './workflow-engine.steps';

export interface EngineWork {
  /** Runs a claimed work activity, then the ones each completion claims, outside the engine's transactions. */
  executeWork(first: WorkItem): Promise<void>;
  /** Aborts the work activities of a workflow that run in this process (those elsewhere notice within a second). */
  interruptLocal(workflowId: string): void;
}

/**
 * Work activities (js, query, updateData, delivery): run by the activity runner with no transaction open,
 * their claim renewed (and checked: Stop interrupts them) meanwhile, then their outcome recorded in a
 * transaction of its own if the claim is still this engine's.
 */
export function createEngineWork(ctx: EngineContext, steps: EngineSteps, reporting: EngineReporting): EngineWork {
  const { store, limits, logger, clock, deps } = ctx;
  const deliveryPollMs = limits.deliveryPollMs ?? 1_000;
  // Work activities running in this process, by task id: Stop interrupts them (abort).
  const runningWork = new Map<string, { workflowId: string; controller: AbortController }>();

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
        logger.info(
          { event: 'workflow.work.discarded', workflowId: work.workflowId, activity: activity.name, status: current?.status },
          'activity result discarded: its task was cancelled or taken over',
        );
        if (!inst || current?.status !== 'cancelled' || current.attempt !== work.attempt) return { stateChanged: false };
        // Cancelled by Stop: this engine no longer runs it (the claim is released), and the Stop may now be complete.
        await tx.updateTask(work.task.id, { leaseUntil: null });
        if (outcome.kind === 'cancelled') {
          await tx.logMany(inst, activity.name, outcome.logs);
          await tx.log(inst, 'info', activity.name, describeWorkActivity(activity, ACTIVITY_CODES.stopped, outcome.message, outcome.line));
        } else if (outcome.kind === 'waitDelivery') {
          await tx.log(inst, 'warning', activity.name, `${outcome.note}; its task was cancelled: the delivery goes on, the workflow no longer waits for it`);
        } else await tx.log(inst, 'warning', activity.name, 'the activity finished after its task was cancelled: its result is discarded');
        return { stateChanged: await steps.finishStop(tx, inst) };
      }
      await tx.logMany(inst, activity.name, outcome.logs);
      if (outcome.kind === 'abandoned' || outcome.kind === 'cancelled') {
        // Not run to its end (shutdown, or interrupted though its task is still claimed): it runs again.
        await tx.updateTask(work.task.id, { status: 'pending', leaseUntil: null });
        return { stateChanged: false };
      }
      const def = ctx.definitionOf(inst);
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
        await steps.fire(tx, inst, def, planWorkDone(activity, 'done', outcome.vars));
        const stateChanged = await steps.settle(tx, inst);
        const next = stateChanged ? undefined : await steps.claimNextWork(tx, inst, def);
        return { stateChanged, ...(next ? { next } : {}) };
      }
      const message = describeWorkActivity(activity, outcome.code, outcome.message, outcome.line);
      return { stateChanged: await steps.recordFailure(tx, inst, def, activity, work.task, outcome.code, message) };
    });

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
    let renewedAt = clock().getTime();
    const watch = async () => {
      const renew = clock().getTime() - renewedAt >= renewEveryMs;
      const claimed = renew
        ? await store.renewLease(work.task.id, work.attempt, new Date(clock().getTime() + limits.taskLeaseMs))
        : await store.isClaimed(work.task.id, work.attempt);
      if (renew && claimed) renewedAt = clock().getTime();
      if (!claimed && !controller.signal.aborted) {
        logger.info(
          { event: 'workflow.work.interrupted', workflowId: work.workflowId, activity: work.activity.name },
          'activity interrupted: its task is no longer claimed',
        );
        controller.abort();
      }
    };
    const renew = setInterval(
      () =>
        void watch().catch((err: unknown) =>
          logger.warn({ event: 'workflow.lease_renewal_failed', workflowId: work.workflowId, err }, 'lease of a running activity not renewed'),
        ),
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
    if (done.stateChanged) await reporting.publishQuietly(work.workflowId);
    return done.next;
  };

  /** Aborts the work activities of a workflow that run in this process (those elsewhere notice within a second). */
  const interruptLocal = (workflowId: string) => {
    for (const w of runningWork.values()) if (w.workflowId === workflowId) w.controller.abort();
  };

  return { executeWork, interruptLocal };
}
