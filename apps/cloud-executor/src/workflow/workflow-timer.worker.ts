import { systemClock, type Clock } from '@cap/campaign-workflow';
import type { Logger } from '@cap/platform-logger';
import type { DataServiceWorker } from '@cap/platform-data-service';
import { createIdleBackoff } from '@cap/platform-resilience';
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
 * `IDLE_INTERVALS` intervals (docs/workflows.md, "Timer loop"). Stopping waits for the pass in progress.
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
  const backoff = createIdleBackoff({ baseMs: deps.intervalMs, idleMaxMs: deps.intervalMs * IDLE_INTERVALS });
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let passing = false;
  let wokenDuringPass = false;

  const schedule = (waitMs: number) => {
    if (stopping) return;
    timer = setTimeout(pass, waitMs);
  };
  const pass = () => {
    timer = undefined;
    passing = true;
    wokenDuringPass = false;
    running = deps.engine
      .tick({ until: clock().getTime() + Math.max(deps.intervalMs * 4, 2_000) })
      .then((result) => backoff.next({ foundWork: result.busy, ...(result.nextDueAt ? { dueInMs: result.nextDueAt.getTime() - clock().getTime() } : {}) }))
      .catch((err: unknown) => {
        logger.warn({ event: 'workflow.timer.failed', err }, 'workflow timer pass failed; retrying');
        return backoff.next({ foundWork: true });
      })
      .then((waitMs) => {
        passing = false;
        schedule(wokenDuringPass ? 0 : waitMs);
      });
  };
  schedule(deps.intervalMs);

  return {
    name: 'workflow-timer',
    wake() {
      backoff.reset();
      if (stopping) return;
      if (passing) {
        wokenDuringPass = true;
      } else if (timer) {
        clearTimeout(timer);
        schedule(0);
      }
    },
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
