import { createIdleBackoff } from './idle.backoff';

export interface PollingLoop {
  /** Stops: no round starts after this; resolves once a round in progress has ended. */
  stop(): Promise<void>;
}

/**
 * Runs `round` every `intervalMs` (measured from the end of the previous round, so rounds never overlap), handing
 * its failures to `onError` and carrying on. The timer does not keep the process alive.
 * With `idleMaxMs`, a round that resolves `false` (it found nothing to do) makes the loop wait longer before the
 * next one: twice its previous wait, up to `idleMaxMs` (idle.backoff.ts); a round that found work, or failed, brings
 * it back to `intervalMs`.
 */
export function startPollingLoop(options: { intervalMs: number; idleMaxMs?: number; round: () => Promise<boolean | void>; onError: (err: unknown) => void }): PollingLoop {
  const backoff = createIdleBackoff({ baseMs: options.intervalMs, idleMaxMs: options.idleMaxMs ?? options.intervalMs });
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const schedule = (waitMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = options
        .round()
        .then(
          (found) => backoff.next({ foundWork: found !== false }),
          (err: unknown) => {
            options.onError(err);
            return backoff.next({ foundWork: true });
          },
        )
        .then(schedule);
    }, waitMs);
    timer.unref();
  };
  schedule(options.intervalMs);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
