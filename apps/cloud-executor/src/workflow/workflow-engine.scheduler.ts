import { WorkflowFailure, type EngineContext, type StepResult } from './workflow-engine.context';
import type { EngineReporting } from './workflow-engine.reporting';
import type { EngineSteps } from './workflow-engine.steps';
import type { EngineWork } from './workflow-engine.work';

/** Budget of a background drain (work activities): what it has not done by then is left to the timer loop. */
const BACKGROUND_DRAIN_MS = 60_000;

export interface DrainOptions {
  /** Epoch ms (the engine's clock) after which no further step starts. */
  until: number;
  /** Wait for the workflow's lock (commands) or skip a workflow another transaction holds (background). */
  wait: boolean;
  /** Run work activities here (background drains) or stop at them and hand the workflow over (commands, timer). */
  claimWork: boolean;
}

export interface EngineScheduler {
  /** Runs steps on a workflow until it has nothing to do, or the budget is spent. */
  drain(workflowId: string, options: DrainOptions): Promise<void>;
  /** Hands a workflow to the background runner: its work activities run there, a bounded number of workflows at once. */
  kick(workflowId: string): void;
  /** One pass of the timer loop: due waits, work left behind, states not yet published; or when it next has something. */
  tick(options: { until: number }): Promise<{ busy: boolean; nextDueAt?: Date }>;
  /** Stops handing out work and waits for the background drains. */
  close(): Promise<void>;
}

/**
 * Scheduling: when steps run. Commands drain a workflow until it waits; work activities run in background
 * drains (at most `workConcurrency` workflows at once, one drain per workflow); the timer loop's tick wakes due
 * waits and delivery checks, takes over work whose claim ran out, and republishes states.
 */
export function createEngineScheduler(ctx: EngineContext, steps: EngineSteps, work: EngineWork, reporting: EngineReporting): EngineScheduler {
  const { store, limits, logger, clock } = ctx;
  // Work activities run in the background, at most `workConcurrency` workflows at once, one drain per workflow.
  const activeDrains = new Map<string, Promise<void>>();
  const kickAgain = new Set<string>();
  const kickQueue: string[] = [];

  /**
   * Runs steps on a workflow until it has nothing to do, or the budget is spent (the timer loop goes on).
   * With `claimWork`, work activities are claimed and run here; without, the drain stops at them and hands
   * the workflow to the background runner (kick), so a command or the timer loop never waits for a script.
   */
  const drain = async (workflowId: string, options: DrainOptions): Promise<void> => {
    for (let i = 0; i < limits.maxStepsPerDrain && clock().getTime() < options.until; i++) {
      let result: StepResult | undefined;
      try {
        result = await store.transaction(async (tx) => {
          const inst = await tx.lockInstance(workflowId, { wait: options.wait });
          return inst ? steps.step(tx, inst, options.claimWork) : undefined; // undefined: another engine holds it (it drains it)
        });
        if (result?.work) await work.executeWork(result.work);
      } catch (err) {
        if (!(err instanceof WorkflowFailure)) throw err;
        await steps.failWorkflow(workflowId, err);
        return;
      }
      if (!result) return;
      if (result.stateChanged) await reporting.publishQuietly(workflowId);
      if (result.deferred) {
        kick(workflowId);
        return;
      }
      if (!result.progressed) return;
    }
  };

  const kick = (workflowId: string) => {
    if (ctx.closed) return;
    if (activeDrains.has(workflowId)) {
      kickAgain.add(workflowId);
      return;
    }
    if (activeDrains.size >= limits.workConcurrency) {
      if (!kickQueue.includes(workflowId)) kickQueue.push(workflowId);
      return;
    }
    const running = drain(workflowId, { until: clock().getTime() + BACKGROUND_DRAIN_MS, wait: false, claimWork: true })
      .catch((err: unknown) => logger.warn({ event: 'workflow.drain_failed', workflowId, err }, 'workflow step failed; retried on the next tick'))
      .finally(() => {
        activeDrains.delete(workflowId);
        if (kickAgain.delete(workflowId)) kick(workflowId);
        const next = kickQueue.shift();
        if (next !== undefined) kick(next);
      });
    activeDrains.set(workflowId, running);
  };

  const tick = async (options: { until: number }): Promise<{ busy: boolean; nextDueAt?: Date }> => {
    const runnable = await store.findRunnable(clock(), 50);
    for (const workflowId of runnable) {
      if (clock().getTime() >= options.until) break;
      if (activeDrains.has(workflowId)) continue; // its background drain is at it
      await drain(workflowId, { until: options.until, wait: false, claimWork: false }).catch((err: unknown) =>
        logger.warn({ event: 'workflow.drain_failed', workflowId, err }, 'workflow step failed; retried on the next tick'),
      );
    }
    const unpublished = await store.findUnpublished(50);
    for (const workflowId of unpublished) await reporting.publishQuietly(workflowId);
    if (runnable.length > 0 || unpublished.length > 0 || activeDrains.size > 0) return { busy: true };
    const nextDueAt = await store.nextDueAt();
    return nextDueAt ? { busy: false, nextDueAt } : { busy: false };
  };

  const close = async (): Promise<void> => {
    ctx.close();
    kickQueue.splice(0);
    kickAgain.clear();
    await Promise.allSettled([...activeDrains.values()]);
  };

  return { drain, kick, tick, close };
}
