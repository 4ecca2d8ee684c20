import { systemClock, type Clock } from '@cap/campaign-workflow';
import type { Logger } from '@cap/platform-logger';
import type { DataServiceWorker } from '@cap/platform-data-service';
import { startPollingWorker } from '@cap/platform-runtime';
import type { WorkflowEngine } from './workflow.engine';

/** While nothing is to do, the loop looks up to this many intervals apart (5 s with the default 500 ms). */
const IDLE_INTERVALS = 10;

export interface WorkflowTimer extends DataServiceWorker {
  /** Work was started here (a command): look at once, and keep the short interval while there is work. */
  wake(): void;
}

/**
 * The engine's background loop: it wakes wait activities whose time has come, runs work a command left (its time
 * budget spent) or a crashed replica left (uncommitted steps, claims run out), and publishes state changes that
 * were not published. Every `intervalMs` while it finds work; when it finds none, it asks the engine when
 * something is next due and sleeps until then, but no longer than twice its previous sleep, up to
 * `IDLE_INTERVALS` intervals (docs/workflows.md, "Timer loop"); a failed pass is logged and the next comes after
 * `intervalMs`. Stopping waits for the pass in progress (libs/platform/runtime/src/polling.worker.ts).
 */
export function startWorkflowTimer(deps: {
  engine: WorkflowEngine;
  intervalMs: number;
  logger: Logger;
  /** The engine's clock: a pass's budget and the engine's next due time are read with it (the system clock by default). */
  now?: Clock;
}): WorkflowTimer {
  const logger = deps.logger.child({ module: 'workflow-timer' });
  const clock = deps.now ?? systemClock;
  return startPollingWorker({
    name: 'workflow-timer',
    intervalMs: deps.intervalMs,
    idleMaxMs: deps.intervalMs * IDLE_INTERVALS,
    async round() {
      const result = await deps.engine.tick({ until: clock().getTime() + Math.max(deps.intervalMs * 4, 2_000) });
      return result.nextDueAt ? { foundWork: result.busy, dueInMs: result.nextDueAt.getTime() - clock().getTime() } : { foundWork: result.busy };
    },
    onError(err) {
      logger.warn({ event: 'workflow.timer.failed', err }, 'workflow timer pass failed; retrying');
    },
  });
}
