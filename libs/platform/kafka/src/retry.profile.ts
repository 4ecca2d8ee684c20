/** Retry timings. Production uses the defaults; tests use FAST so failure paths really run in seconds. */
export interface RetryProfile {
  /** kafkajs client-level retries (connections, metadata, produce). */
  client: { initialRetryTime: number; retries: number; maxRetryTime: number };
  /** In-process retries of a message handler that failed with a retriable error (waits: exponentialBackoff with jitter). */
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
