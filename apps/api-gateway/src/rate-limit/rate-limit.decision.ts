import type { RateLimitPolicy } from './rate-limit.config';

/** Who is calling: the operator's login once authenticated, else the client IP. */
export interface RateLimitCaller {
  kind: 'operator' | 'ip';
  id: string;
}

export interface RateLimitRequest {
  /** `urn#Method`, e.g. `xtk:session#Logon`. */
  api: string;
  caller: RateLimitCaller;
  /** The call carried `ACC-SDK-Call-Internal: 1` (an SDK-initiated schema download). */
  internal: boolean;
}

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  /** Calls still admissible in the current window after this one. */
  remaining: number;
  /** Milliseconds until the oldest call counted in the window leaves it (one more call fits then). */
  resetMs: number;
  /** Whole seconds (≥ 1) a denied caller should wait; only on denied decisions. */
  retryAfterSeconds?: number;
  /** Policy name for the headers: "default", "internal" or the API name. */
  policy: string;
  windowMs: number;
  /** `redis`: the shared window; `local`: this process's fallback while Redis is unreachable. */
  source: 'redis' | 'local';
  /** Why a call was denied: its window is full, or the shared window is unreachable and fallback is `deny`. */
  reason?: 'limit' | 'unavailable';
  /** Redis server time (µs since epoch) the shared decision was taken at; lets tests check exactness. */
  redisTimeUs?: number;
}

/**
 * A decision from one sliding-window check: `count` calls are in the window after it (the admitted one
 * included), the oldest of them at `oldest`, checked at `now` (same unit as `unitMs` says: 1 for ms, 0.001 for µs).
 */
export function buildDecision(
  policy: RateLimitPolicy,
  window: { allowed: boolean; count: number; oldest: number; now: number; unitMs: number },
  source: 'redis' | 'local',
): RateLimitDecision {
  const untilOldestLeaves = (window.oldest - window.now) * window.unitMs + policy.windowMs;
  const resetMs = Math.max(0, Math.ceil(untilOldestLeaves));
  const decision: RateLimitDecision = {
    allowed: window.allowed,
    limit: policy.limit,
    remaining: Math.max(0, policy.limit - window.count),
    resetMs,
    policy: policy.name,
    windowMs: policy.windowMs,
    source,
  };
  if (!window.allowed) {
    decision.retryAfterSeconds = Math.max(1, Math.ceil(resetMs / 1000));
    decision.reason = 'limit';
  }
  return decision;
}

/** Fail-closed answer while the shared window is unreachable: deny, ask to come back in a second. */
export function buildUnavailableDecision(policy: RateLimitPolicy): RateLimitDecision {
  return {
    allowed: false,
    limit: policy.limit,
    remaining: 0,
    resetMs: 1_000,
    retryAfterSeconds: 1,
    policy: policy.name,
    windowMs: policy.windowMs,
    source: 'local',
    reason: 'unavailable',
  };
}
