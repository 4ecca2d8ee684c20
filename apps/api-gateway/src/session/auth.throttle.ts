import { createHash } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '@cap/platform-logger';
import type { RedisClient } from '@cap/platform-redis';

/** How a caller tried to authenticate (a metric label and a log field). */
export type AuthVia = 'logon' | 'loginToken' | 'basic' | 'bearer';

export interface AuthThrottleOptions {
  redis: RedisClient;
  logger: Logger;
  registry: Registry;
  keyPrefix: string;
  /** Failed attempts on one login (within `windowMs`) before it is locked … */
  loginThreshold: number;
  /** … and from one client address. */
  addressThreshold: number;
  /** How long failures are remembered after the last one. */
  windowMs: number;
  /** First lock; each further failure doubles it, up to `maxLockMs`. */
  baseLockMs: number;
  maxLockMs: number;
  /** Budget of one Redis decision; past it the attempt is let through (and logged). */
  redisTimeoutMs: number;
}

/** Authentication refused without checking the credentials: too many recent failures. */
export class AuthLocked extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`Too many failed authentications: retry in ${retryAfterSeconds} s`);
    this.name = 'AuthLocked';
  }
}

export interface AuthThrottle {
  /** Throws AuthLocked while the login or the address is locked; checked before any password is verified. */
  check(login: string | undefined, address: string): Promise<void>;
  /** Counts a failed authentication against the login (when known) and the address; may start a lock. */
  failed(login: string | undefined, address: string, via: AuthVia): Promise<void>;
  /** A successful authentication clears the login's failures (never the address's). */
  succeeded(login: string): Promise<void>;
}

/**
 * One counter per key (a hash: failures `n`, lock end `until` in Redis server ms), shared by every gateway replica.
 * `check` answers the time left on the lock; `fail` counts and, at the threshold and past it, locks for
 * base × 2^(failures − threshold), capped. Each key is its own script call, so keys never need one hash slot.
 */
export const AUTH_THROTTLE_LUA = `
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lockedUntil = tonumber(redis.call('HGET', key, 'until') or '0')
if ARGV[1] == 'check' then
  return math.max(0, lockedUntil - now)
end
local threshold = tonumber(ARGV[2])
local windowMs = tonumber(ARGV[3])
local baseMs = tonumber(ARGV[4])
local maxMs = tonumber(ARGV[5])
local n = redis.call('HINCRBY', key, 'n', 1)
local lock = 0
if n >= threshold then
  lock = math.min(baseMs * 2 ^ math.min(n - threshold, 40), maxMs)
  redis.call('HSET', key, 'until', string.format('%.0f', now + lock))
end
redis.call('PEXPIRE', key, string.format('%.0f', math.max(windowMs, lock)))
return { n, lock }
`;

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');
const THROTTLE_SHA = sha1(AUTH_THROTTLE_LUA);

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis gave no reply within ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/**
 * Counts failed authentications per login and per client address in Redis (all replicas share the counts) and
 * refuses further attempts with a growing lock once a threshold is passed: password guessing and the CPU it costs
 * (every password check is a scrypt hash) are bounded whatever the number of replicas. While Redis cannot answer,
 * attempts go through unthrottled (logged): sessions live in Redis too, so the gateway is degraded anyway.
 */
export function createAuthThrottle(options: AuthThrottleOptions): AuthThrottle {
  const logger = options.logger.child({ module: 'auth-throttle' });
  const failures = new Counter({
    name: 'cap_auth_failures_total',
    help: 'Failed authentications, by way of authenticating',
    labelNames: ['via'],
    registers: [options.registry],
  });
  const refused = new Counter({
    name: 'cap_auth_locked_total',
    help: 'Authentication attempts refused because the login or the address is locked',
    labelNames: ['scope'],
    registers: [options.registry],
  });
  const loginKey = (login: string) => `${options.keyPrefix}authfail:login:${sha1(login)}`;
  const addressKey = (address: string) => `${options.keyPrefix}authfail:addr:${address.slice(0, 64)}`;
  let lastUnavailableLog = 0;
  const unavailable = (err: unknown) => {
    const now = Date.now();
    if (now - lastUnavailableLog > 5_000) {
      lastUnavailableLog = now;
      logger.warn(
        { event: 'auth.throttle.unavailable', err: { message: (err as Error).message } },
        'authentication throttle unavailable: attempts are not counted',
      );
    }
  };
  const run = async (key: string, args: string[]): Promise<unknown> => {
    const call = { keys: [key], arguments: args };
    try {
      return await withTimeout(options.redis.evalSha(THROTTLE_SHA, call), options.redisTimeoutMs);
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
      return await withTimeout(options.redis.eval(AUTH_THROTTLE_LUA, call), options.redisTimeoutMs);
    }
  };
  const scopes = (login: string | undefined, address: string) => [
    ...(login ? [{ scope: 'login' as const, key: loginKey(login), threshold: options.loginThreshold }] : []),
    { scope: 'address' as const, key: addressKey(address || 'unknown'), threshold: options.addressThreshold },
  ];

  return {
    async check(login, address) {
      let remaining: number[];
      try {
        remaining = (await Promise.all(scopes(login, address).map((s) => run(s.key, ['check'])))).map(Number);
      } catch (err) {
        unavailable(err);
        return;
      }
      const ms = Math.max(...remaining);
      if (ms > 0) {
        const which = scopes(login, address)[remaining.indexOf(ms)]!.scope;
        refused.inc({ scope: which });
        throw new AuthLocked(Math.max(1, Math.ceil(ms / 1000)));
      }
    },
    async failed(login, address, via) {
      failures.inc({ via });
      const args = (threshold: number) => ['fail', String(threshold), String(options.windowMs), String(options.baseLockMs), String(options.maxLockMs)];
      try {
        const replies = await Promise.all(
          scopes(login, address).map(async (s) => ({ scope: s.scope, reply: (await run(s.key, args(s.threshold))) as [number, number] })),
        );
        const locks = replies.filter((r) => Number(r.reply[1]) > 0);
        logger.warn(
          { event: 'auth.failed', via, login: login?.slice(0, 128), address, failures: Object.fromEntries(replies.map((r) => [r.scope, Number(r.reply[0])])) },
          'failed authentication',
        );
        for (const l of locks)
          logger.warn(
            { event: 'auth.locked', via, scope: l.scope, login: l.scope === 'login' ? login?.slice(0, 128) : undefined, address, lockMs: Number(l.reply[1]) },
            `authentication locked for this ${l.scope}`,
          );
      } catch (err) {
        unavailable(err);
      }
    },
    async succeeded(login) {
      try {
        await withTimeout(options.redis.del(loginKey(login)), options.redisTimeoutMs);
      } catch (err) {
        unavailable(err);
      }
    },
  };
}
