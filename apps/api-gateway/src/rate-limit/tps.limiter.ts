import { createHash, randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { Logger } from '@cap/platform-logger';
import type { RedisClient } from '@cap/platform-redis';
import { exponentialBackoff } from '@cap/platform-resilience';
import { API_NAME_PATTERN, resolvePolicy, type RateLimitConfig, type RateLimitPolicy } from './rate-limit.config';
import { buildDecision, buildUnavailableDecision, type RateLimitDecision, type RateLimitRequest } from './rate-limit.decision';
import { getRateLimitMetrics, type CallerClass, type LimiterMode } from './rate-limit.metrics';
import { boundedLabels } from '../bounded-labels';
import { createLocalWindowLimiter } from './local-window.limiter';
import { runSlidingWindowScript, SLIDING_WINDOW_LUA } from './sliding-window.script';

export interface RateLimiterDeps {
  /**
   * Template of the limiter's own Redis connection (URL, credentials, TLS and database are taken from it; it
   * is never used for commands). The limiter opens a dedicated connection so that it reconnects on its own
   * short schedule (the shared window is back ≤ 1 s after Redis returns) and never queues behind other traffic.
   */
  redis: RedisClient;
  logger: Logger;
  registry: Registry;
  config: RateLimitConfig;
  /** Prefix of every Redis key; default `cap:ratelimit:`. */
  keyPrefix?: string;
  /** Budget of one shared decision; past it the call is decided locally. Default 35 ms, leaving room for event-loop lag within the 50 ms bound (L3). */
  redisTimeoutMs?: number;
  /** While on the local fallback, how often the shared window is probed. Default 250 ms. */
  probeIntervalMs?: number;
  /** Cap of the reconnect back-off of the limiter's connection. Default 200 ms. */
  reconnectMaxDelayMs?: number;
  /** How long creation waits for the first connection before starting on the local fallback. Default 2 s. */
  connectWaitMs?: number;
  /** A connection that is up but has answered nothing for this long is replaced (half-open TCP). Default 2 s. */
  recycleAfterMs?: number;
  /** At most this many distinct unconfigured API names become metric labels; the rest are "other". Default 100. */
  maxApiLabels?: number;
  /** Clock of the local fallback window (ms, monotonic); injectable for tests. */
  now?: () => number;
}

export interface RateLimiter {
  /** Never throws and answers within `redisTimeoutMs` plus local work, whatever state Redis is in. */
  decide(request: RateLimitRequest): Promise<RateLimitDecision>;
  /** `shared` while decisions use the Redis window, `local` while on the fallback. */
  readonly mode: LimiterMode;
  close(): Promise<void>;
}

class RedisTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis gave no reply within ${ms} ms`);
    this.name = 'RedisTimeoutError';
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  // One promise and one timer per call (no Promise.race, no finally): this runs on every SOAP call.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new RedisTimeoutError(ms)), ms);
    // A reply (or failure) arriving after the timeout is dropped, not reported as an unhandled rejection.
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The gateway's TPS limiter: an exact sliding window per (API, caller) shared by every gateway process
 * through Redis (one Lua script per decision), with a per-process window of the same semantics as fallback
 * while Redis is unreachable or slow (or fail-closed, per `config.fallback`). Mode changes are logged once
 * and exposed as metrics.
 */
export async function createRateLimiter(deps: RateLimiterDeps): Promise<RateLimiter> {
  const { config } = deps;
  const keyPrefix = deps.keyPrefix ?? 'cap:ratelimit:';
  const redisTimeoutMs = deps.redisTimeoutMs ?? 35;
  const probeIntervalMs = deps.probeIntervalMs ?? 250;
  const reconnectMaxDelayMs = deps.reconnectMaxDelayMs ?? 200;
  const recycleAfterMs = deps.recycleAfterMs ?? 2_000;
  const maxApiLabels = deps.maxApiLabels ?? 100;
  const logger = deps.logger.child({ module: 'rate-limit' });
  const metrics = getRateLimitMetrics(deps.registry);
  const local = createLocalWindowLimiter({ now: deps.now ?? (() => performance.now()) });

  const memberPrefix = randomBytes(6).toString('hex');
  let sequence = 0;
  let mode: LimiterMode = 'local';
  let localSince = performance.now();
  let closed = false;
  let unansweredSince: number | undefined;
  let lastError: string | undefined;

  const apiLabel = boundedLabels({
    max: maxApiLabels,
    always: [...config.apis.keys(), ...(config.internal?.apis ?? [])],
    accept: (api) => API_NAME_PATTERN.test(api),
  });

  const setModeGauge = () => {
    metrics.mode.set({ mode: 'shared' }, mode === 'shared' ? 1 : 0);
    metrics.mode.set({ mode: 'local' }, mode === 'local' ? 1 : 0);
  };

  const enterLocal = (reason: string, err?: unknown) => {
    if (mode === 'local' || closed) return;
    mode = 'local';
    localSince = performance.now();
    setModeGauge();
    metrics.modeChanges.inc({ mode: 'local' });
    const what = config.fallback === 'local' ? 'each gateway process now limits on its own' : 'every call is denied (fail-closed)';
    logger.warn(
      { event: 'ratelimit.mode.local', reason, fallback: config.fallback, err: err === undefined ? lastError : messageOf(err) },
      `shared rate-limit window unavailable (${reason}): ${what}`,
    );
  };

  const enterShared = () => {
    if (mode === 'shared' || closed) return;
    mode = 'shared';
    setModeGauge();
    metrics.modeChanges.inc({ mode: 'shared' });
    logger.info({ event: 'ratelimit.mode.shared', localForMs: Math.round(performance.now() - localSince) }, 'shared rate-limit window in use');
  };

  const openConnection = (): RedisClient => {
    const conn = deps.redis.duplicate({
      disableOfflineQueue: true,
      socket: {
        ...deps.redis.options?.socket,
        reconnectStrategy: (retries: number) => exponentialBackoff(retries + 1, { initialMs: 25, maxMs: reconnectMaxDelayMs }),
      },
    });
    conn.on('error', (err: unknown) => {
      lastError = messageOf(err);
      if (conn === connection && !conn.isReady) enterLocal('disconnected', err);
    });
    conn.on('ready', () => void probe());
    // connect() settles once connected; with a reconnect strategy that always retries, it only fails when
    // the connection is destroyed (close, recycle).
    conn.connect().catch(() => undefined);
    return conn;
  };

  /** While on the fallback: is the shared window reachable again? SCRIPT LOAD doubles as the probe and
   *  re-caches the script after a Redis restart. One probe at a time; callers share the one in flight. */
  const runProbe = async (): Promise<void> => {
    const conn = connection;
    if (!conn.isReady) {
      unansweredSince = undefined;
      return;
    }
    try {
      await withTimeout(conn.scriptLoad(SLIDING_WINDOW_LUA), redisTimeoutMs);
      unansweredSince = undefined;
      if (conn === connection) enterShared();
    } catch (err) {
      lastError = messageOf(err);
      unansweredSince ??= performance.now();
      if (performance.now() - unansweredSince >= recycleAfterMs && conn === connection && !closed) {
        logger.warn({ event: 'ratelimit.redis.reconnect', err: lastError }, 'replacing a Redis connection that stopped answering');
        unansweredSince = undefined;
        connection = openConnection();
        conn.destroy();
      }
    }
  };
  let probeInFlight: Promise<void> | undefined;
  const probe = (): Promise<void> => {
    if (closed || mode === 'shared') return Promise.resolve();
    probeInFlight ??= runProbe().finally(() => (probeInFlight = undefined));
    return probeInFlight;
  };

  let connection = openConnection();
  setModeGauge();
  const timer = setInterval(() => void probe(), probeIntervalMs);
  timer.unref();

  // Start on the shared window when Redis answers in time; otherwise start on the fallback (never fail).
  const connectWaitMs = deps.connectWaitMs ?? 2_000;
  if (!connection.isReady) {
    const first = connection;
    await new Promise<void>((resolve) => {
      const wait = setTimeout(resolve, connectWaitMs);
      first.once('ready', () => {
        clearTimeout(wait);
        resolve();
      });
    });
  }
  await probe();
  if (mode === 'local') {
    logger.warn(
      { event: 'ratelimit.mode.local', reason: 'not-connected', fallback: config.fallback, err: lastError },
      'shared rate-limit window unavailable at start-up',
    );
  }

  const keyFor = (policy: RateLimitPolicy, request: RateLimitRequest): string => {
    const api = request.api.length <= 200 ? request.api : `sha1:${createHash('sha1').update(request.api).digest('hex')}`;
    return `${keyPrefix}${policy.bucket}:${api}:${request.caller.kind}:${encodeURIComponent(request.caller.id)}`;
  };

  const decideLocally = (policy: RateLimitPolicy, key: string): RateLimitDecision => {
    if (config.fallback === 'deny') return buildUnavailableDecision(policy);
    const window = local.decide(key, policy.limit, policy.windowMs);
    return buildDecision(policy, { ...window, unitMs: 1 }, 'local');
  };

  const decideShared = async (policy: RateLimitPolicy, key: string, conn: RedisClient): Promise<RateLimitDecision> => {
    const member = `${memberPrefix}:${(sequence++).toString(36)}`;
    const reply = await withTimeout(runSlidingWindowScript(conn, { key, windowMs: policy.windowMs, limit: policy.limit, member }), redisTimeoutMs);
    const decision = buildDecision(policy, { allowed: reply.allowed, count: reply.count, oldest: reply.oldestUs, now: reply.nowUs, unitMs: 0.001 }, 'redis');
    decision.redisTimeUs = reply.nowUs;
    return decision;
  };

  return {
    async decide(request) {
      const startedAt = performance.now();
      const policy = resolvePolicy(config, request);
      const key = keyFor(policy, request);
      let decision: RateLimitDecision | undefined;
      const conn = connection;
      if (mode === 'shared') {
        if (conn.isReady) {
          try {
            decision = await decideShared(policy, key, conn);
          } catch (err) {
            enterLocal(err instanceof RedisTimeoutError ? 'timeout' : 'error', err);
          }
        } else {
          enterLocal('disconnected');
        }
      }
      decision ??= decideLocally(policy, key);

      const callerClass: CallerClass = policy.bucket === 'internal' ? 'internal' : request.caller.kind === 'operator' ? 'operator' : 'anonymous';
      metrics.decisions.inc({ api: apiLabel(request.api), caller_class: callerClass, result: decision.allowed ? 'allowed' : 'limited' });
      metrics.decisionSeconds.observe({ source: decision.source }, (performance.now() - startedAt) / 1000);
      return decision;
    },
    get mode() {
      return mode;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      // destroy, not close: a graceful close would wait for replies a stalled Redis may never send.
      try {
        connection.destroy();
      } catch {
        // already closed
      }
    },
  };
}
