/**
 * How long a polling loop waits before its next round, so that a service with nothing to do stops waking up for
 * nothing (P10, docs/benchmarks.md "Idle cost") while keeping its pace when there is work:
 * - after a round that found work: `baseMs`, the loop's usual interval;
 * - after each round that found none: the previous idle wait doubled (the first one is `baseMs`), up to `idleMaxMs`;
 * - never past the moment something is known to be due (`dueInMs`), and never shorter than `baseMs`: what is due
 *   is picked up at least as soon as with a fixed `baseMs` interval.
 * `reset()` is for a loop told of new work (a wake-up call): its next idle wait is `baseMs` again.
 */
export interface IdleBackoff {
  /** The wait after a round; `dueInMs`: when the next known piece of work is due, if the loop knows. */
  next(round: { foundWork: boolean; dueInMs?: number }): number;
  reset(): void;
}

export function createIdleBackoff(options: { baseMs: number; idleMaxMs: number }): IdleBackoff {
  const { baseMs } = options;
  const maxMs = Math.max(baseMs, options.idleMaxMs);
  let idleWait = 0;
  return {
    next({ foundWork, dueInMs }) {
      if (foundWork) {
        idleWait = 0;
        return baseMs;
      }
      idleWait = idleWait === 0 ? baseMs : Math.min(idleWait * 2, maxMs);
      return dueInMs === undefined ? idleWait : Math.min(idleWait, Math.max(dueInMs, baseMs));
    },
    reset() {
      idleWait = 0;
    },
  };
}
