export interface PollingLoop {
  /** Stops: no round starts after this; resolves once a round in progress has ended. */
  stop(): Promise<void>;
}

/**
 * Runs `round` every `intervalMs` (measured from the end of the previous round, so rounds never overlap), handing
 * its failures to `onError` and carrying on. The timer does not keep the process alive.
 */
export function startPollingLoop(options: { intervalMs: number; round: () => Promise<void>; onError: (err: unknown) => void }): PollingLoop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = options
        .round()
        .catch(options.onError)
        .finally(schedule);
    }, options.intervalMs);
    timer.unref();
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
