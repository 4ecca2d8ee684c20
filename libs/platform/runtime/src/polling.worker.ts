import { createIdleBackoff } from '@cap/platform-resilience';

/** What a round is told. */
export interface PollingRound {
  /** Aborted once `stop()` is called: a long round checks it between steps and returns early. */
  readonly signal: AbortSignal;
  /** This round starts because `wake()` was called (during the previous wait, or during the previous round). */
  readonly woken: boolean;
  /**
   * Forgets the wake-ups received so far during this round, for a round that waits for more before it reads (what
   * they announced is read by this round): without this, each would run one more round right after it.
   */
  forgetWakes(): void;
}

/**
 * What a round found, which sets the wait before the next one:
 * - `true`, nothing (`undefined`) or `{ foundWork: true }`: work was done, wait `intervalMs`;
 * - `false` or `{ foundWork: false }`: nothing to do, wait longer and longer up to `idleMaxMs` (idle.backoff.ts in
 *   @cap/platform-resilience), but no longer than `dueInMs` when the round knows when its next piece of work is due;
 * - `{ again: true }`: more is waiting, run the next round at once;
 * - `{ waitMs }`: wait exactly that long (the idle back-off is left as it is); with `wakeable: false`, `wake()` does
 *   not cut that wait short (and is forgotten: the round after it is not `woken`).
 */
export type PollingRoundResult = boolean | void | { foundWork: boolean; dueInMs?: number } | { again: true } | { waitMs: number; wakeable?: boolean };

export interface PollingWorkerOptions {
  /** The worker's name (DataServiceWorker's name, readiness check, the message of `check()`). */
  name: string;
  /** The wait after a round that found work (and after a failed round unless `failureWaitMs` says otherwise). */
  intervalMs: number;
  /** The longest wait while rounds find nothing (default `intervalMs`: no idle back-off). */
  idleMaxMs?: number;
  /** When the first round runs: at once (`'now'`) or after `intervalMs` (default). */
  firstRound?: 'now' | 'after-interval';
  round(round: PollingRound): Promise<PollingRoundResult>;
  /** A round failed (`failures`: consecutive failed rounds, this one included); the worker carries on. */
  onError(err: unknown, failures: number): void;
  /**
   * The wait after the `failures`-th consecutive failed round, not cut short by `wake()` (a failing dependency is
   * not hammered by wake-ups). Without it, a failed round is followed by `intervalMs`, like a round that found work.
   */
  failureWaitMs?(failures: number): number;
}

export interface PollingWorker {
  readonly name: string;
  /** New work is known: the idle back-off starts again from `intervalMs`, and a round runs now (or right after the one in progress). */
  wake(): void;
  /** Readiness: rejects while the last round failed. */
  check(): Promise<void>;
  /** No round starts after this; waits are cut short; resolves once the round in progress has ended. */
  stop(): Promise<void>;
}

/**
 * A background loop that runs `round` again and again, never two at a time, each wait measured from the end of the
 * previous round: `intervalMs` while there is work, longer and longer while there is none (so that an idle service
 * stops waking up for nothing: docs/benchmarks.md, "Idle cost"), at once when woken. A failed round is reported to
 * `onError` and the worker carries on. Its timers do not keep the process alive.
 */
export function startPollingWorker(options: PollingWorkerOptions): PollingWorker {
  const backoff = createIdleBackoff({ baseMs: options.intervalMs, idleMaxMs: options.idleMaxMs ?? options.intervalMs });
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  /** wake() was called during the round in progress or during a wait that cannot be cut short. */
  let woken = false;
  /** Waiting, and wake() may cut the wait short (not after a failure with `failureWaitMs`). */
  let wakeable = false;
  let failures = 0;
  let lastError: Error | undefined;
  let running: Promise<void> = Promise.resolve();

  const afterRound = (result: PollingRoundResult): Wait => {
    if (typeof result === 'object' && result !== null) {
      if ('again' in result) return { ms: 0, wakeable: false };
      if ('waitMs' in result) return { ms: result.waitMs, wakeable: result.wakeable !== false };
      return {
        ms: backoff.next(result.dueInMs === undefined ? { foundWork: result.foundWork } : { foundWork: result.foundWork, dueInMs: result.dueInMs }),
        wakeable: true,
      };
    }
    return { ms: backoff.next({ foundWork: result !== false }), wakeable: true };
  };

  const afterFailure = (err: unknown): Wait => {
    failures++;
    lastError = err instanceof Error ? err : new Error(String(err));
    options.onError(err, failures);
    return options.failureWaitMs ? { ms: options.failureWaitMs(failures), wakeable: false } : { ms: backoff.next({ foundWork: true }), wakeable: true };
  };

  const forgetWakes = () => {
    woken = false;
  };

  const runRound = (byWake: boolean) => {
    timer = undefined;
    wakeable = false;
    woken = false;
    if (stopping.signal.aborted) return;
    running = new Promise<PollingRoundResult>((resolve) => resolve(options.round({ signal: stopping.signal, woken: byWake, forgetWakes })))
      .then((result) => {
        failures = 0;
        lastError = undefined;
        return afterRound(result);
      }, afterFailure)
      .then(wait);
  };

  const wait = ({ ms, wakeable: cutShort }: Wait) => {
    if (stopping.signal.aborted) return;
    if (cutShort && woken) return runRound(true);
    if (ms <= 0 && !cutShort) return runRound(false);
    wakeable = cutShort;
    timer = setTimeout(() => runRound(false), ms);
    timer.unref();
  };

  if (options.firstRound === 'now') runRound(false);
  else wait({ ms: options.intervalMs, wakeable: true });

  return {
    name: options.name,
    wake() {
      backoff.reset();
      if (!wakeable) {
        // In a round: the next one starts right after it. In a wait that cannot be cut short (after a failure, a
        // hold, "again"): forgotten when that wait ends, since a round runs then anyway.
        woken = true;
        return;
      }
      clearTimeout(timer);
      wakeable = false;
      // Not in the caller's call stack (a request handler): in a microtask, as an awaited promise would.
      running = Promise.resolve().then(() => runRound(true));
    },
    async check() {
      if (lastError) throw new Error(`${options.name} failing: ${lastError.message}`);
    },
    async stop() {
      stopping.abort();
      clearTimeout(timer);
      timer = undefined;
      // A round in progress, or one a wake-up has just started: `running` is replaced when it starts.
      let current: Promise<void>;
      do {
        current = running;
        await current;
      } while (current !== running);
    },
  };
}

interface Wait {
  ms: number;
  wakeable: boolean;
}
