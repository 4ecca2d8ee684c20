/**
 * The in-process fallback: the same exact sliding window as the Redis script (a log of admitted call times
 * per key; a call is admitted when fewer than `limit` calls were admitted in the last `windowMs`), kept in
 * this process only. Used while Redis is unreachable, so each gateway process limits on its own.
 *
 * Memory is bounded: a key holds at most `limit` timestamps, keys whose calls have all left their window are
 * swept, and beyond `maxKeys` the least recently created key is dropped.
 */
export interface LocalWindowResult {
  allowed: boolean;
  /** Calls in the window after this decision. */
  count: number;
  /** Time of the oldest call still in the window (ms, clock of `now`). */
  oldest: number;
  now: number;
}

export interface LocalWindowLimiter {
  decide(key: string, limit: number, windowMs: number): LocalWindowResult;
  /** Number of keys held (for tests and metrics). */
  readonly size: number;
}

interface CallLog {
  /** Admitted call times, ascending; entries before `head` have left the window. */
  times: number[];
  head: number;
  windowMs: number;
}

export function createLocalWindowLimiter(options: { now: () => number; maxKeys?: number; sweepIntervalMs?: number }): LocalWindowLimiter {
  const maxKeys = options.maxKeys ?? 100_000;
  const sweepIntervalMs = options.sweepIntervalMs ?? 10_000;
  const logs = new Map<string, CallLog>();
  let lastSweep = options.now();

  const expire = (log: CallLog, now: number) => {
    const edge = now - log.windowMs;
    // A call at time t is out of the window once t <= now - windowMs (same rule as the Redis script).
    while (log.head < log.times.length && log.times[log.head]! <= edge) log.head++;
    if (log.head > 32 && log.head * 2 > log.times.length) {
      log.times = log.times.slice(log.head);
      log.head = 0;
    }
  };

  const sweep = (now: number) => {
    lastSweep = now;
    for (const [key, log] of logs) {
      const newest = log.times[log.times.length - 1];
      if (newest === undefined || newest <= now - log.windowMs) logs.delete(key);
    }
  };

  return {
    decide(key, limit, windowMs) {
      const now = options.now();
      if (now - lastSweep >= sweepIntervalMs) sweep(now);
      let log = logs.get(key);
      if (!log) {
        if (logs.size >= maxKeys) {
          sweep(now);
          // Still full: forget the oldest key (Map keeps insertion order) rather than grow without bound.
          if (logs.size >= maxKeys) logs.delete(logs.keys().next().value!);
        }
        log = { times: [], head: 0, windowMs };
        logs.set(key, log);
      }
      log.windowMs = windowMs;
      expire(log, now);
      let count = log.times.length - log.head;
      const allowed = count < limit;
      if (allowed) {
        log.times.push(now);
        count++;
      }
      return { allowed, count, oldest: count > 0 ? log.times[log.head]! : now, now };
    },
    get size() {
      return logs.size;
    },
  };
}
