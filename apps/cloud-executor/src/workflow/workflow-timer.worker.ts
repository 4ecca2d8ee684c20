import type { Logger } from '@cap/platform-logger';
import type { DataServiceWorker } from '@cap/platform-data-service';
import type { WorkflowEngine } from './workflow.engine';

/**
 * The engine's background loop: every `intervalMs` it wakes wait activities whose time has come, runs work
 * a command left (its time budget spent) or a crashed replica left (uncommitted steps), and publishes state
 * changes that were not published. Stopping waits for the pass in progress.
 */
export function startWorkflowTimer(deps: { engine: WorkflowEngine; intervalMs: number; logger: Logger }): DataServiceWorker {
  const logger = deps.logger.child({ module: 'workflow-timer' });
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const schedule = () => {
    if (stopping) return;
    timer = setTimeout(() => {
      running = deps.engine
        .tick({ until: Date.now() + Math.max(deps.intervalMs * 4, 2_000) })
        .catch((err: unknown) => logger.warn({ event: 'workflow.timer.failed', err }, 'workflow timer pass failed; retrying'))
        .finally(schedule);
    }, deps.intervalMs);
  };
  schedule();

  return {
    name: 'workflow-timer',
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
