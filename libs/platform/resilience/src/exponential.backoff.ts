export interface ExponentialBackoff {
  /** The wait before the first retry … */
  initialMs: number;
  /** … doubled for each retry after it, up to this. */
  maxMs: number;
  /**
   * `'equal'`: a random wait between half of the computed one and all of it, so that many clients failing together
   * do not retry together. Default: none, the wait is exact.
   */
  jitter?: 'equal';
}

/** Past this many doublings every cap in use is reached (2^30 ms is 12 days): keeps the product finite. */
const MAX_DOUBLINGS = 30;

/**
 * The wait before retry number `attempt` (1-based: the first retry waits `initialMs`): `initialMs × 2^(attempt − 1)`,
 * at most `maxMs`, with the optional jitter. `random` is for tests.
 */
export function exponentialBackoff(attempt: number, policy: ExponentialBackoff, random: () => number = Math.random): number {
  const doublings = Math.min(MAX_DOUBLINGS, Math.max(0, Math.floor(attempt) - 1));
  const capped = Math.min(policy.maxMs, policy.initialMs * 2 ** doublings);
  return policy.jitter === 'equal' ? Math.round(capped / 2 + random() * (capped / 2)) : capped;
}
