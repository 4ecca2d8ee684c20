/** Retry timings. Production uses the defaults; tests use FAST so failure paths really run in seconds. */
export interface RetryProfile {
  /** kafkajs client-level retries (connections, metadata, produce). */
  client: { initialRetryTime: number; retries: number; maxRetryTime: number };
  /** In-process retries of a message handler that failed with a retriable error. */
  handler: { attempts: number; initialDelayMs: number; maxDelayMs: number };
}

export const RETRY_PROFILES = {
  default: {
    client: { initialRetryTime: 300, retries: 8, maxRetryTime: 30_000 },
    handler: { attempts: 5, initialDelayMs: 200, maxDelayMs: 5_000 },
  },
  fast: {
    client: { initialRetryTime: 50, retries: 3, maxRetryTime: 500 },
    handler: { attempts: 3, initialDelayMs: 10, maxDelayMs: 50 },
  },
} satisfies Record<string, RetryProfile>;

export function backoffDelay(attempt: number, profile: RetryProfile['handler']): number {
  const exp = profile.initialDelayMs * 2 ** Math.max(0, attempt - 1);
  const capped = Math.min(exp, profile.maxDelayMs);
  return Math.round(capped / 2 + Math.random() * (capped / 2));
}
