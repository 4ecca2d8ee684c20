import { createHash } from 'node:crypto';
import type { RedisClient } from '@cap/platform-redis';

/**
 * One atomic decision on the shared sliding window. The key is a sorted set of admitted calls (score: Redis
 * server time in µs; member: that time plus a caller-unique suffix). Redis runs the script alone, and every
 * gateway process uses the same clock (`TIME`), so all processes see one exact window:
 * drop calls older than the window, count, admit only if count < limit, refresh the key's expiry.
 *
 * Numbers handed to Redis commands are formatted with `%.0f`: Lua's default number-to-string conversion keeps
 * 14 significant digits, which would round a µs timestamp (16 digits).
 *
 * Returns { allowed (1|0), count in window after the decision, oldest score in the window, now } (µs).
 */
export const SLIDING_WINDOW_LUA = `
local key = KEYS[1]
local windowMs = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.0f', now - windowMs * 1000))
local count = redis.call('ZCARD', key)
local allowed = 0
if count < limit then
  redis.call('ZADD', key, string.format('%.0f', now), t[1] .. '.' .. t[2] .. ':' .. ARGV[3])
  redis.call('PEXPIRE', key, windowMs)
  count = count + 1
  allowed = 1
end
local oldest = now
if count > 0 then
  oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
end
return { allowed, count, oldest, now }
`;

export const SLIDING_WINDOW_SHA = createHash('sha1').update(SLIDING_WINDOW_LUA).digest('hex');

export interface SlidingWindowReply {
  allowed: boolean;
  count: number;
  oldestUs: number;
  nowUs: number;
}

function parseReply(reply: unknown): SlidingWindowReply {
  if (!Array.isArray(reply) || reply.length !== 4 || !reply.every((v) => typeof v === 'number')) {
    throw new Error(`unexpected sliding-window script reply ${JSON.stringify(reply)}`);
  }
  const [allowed, count, oldestUs, nowUs] = reply as [number, number, number, number];
  return { allowed: allowed === 1, count, oldestUs, nowUs };
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

/** EVALSHA, falling back to EVAL (which also caches the script) when Redis does not know the script yet. */
export async function runSlidingWindowScript(
  client: RedisClient,
  args: { key: string; windowMs: number; limit: number; member: string },
): Promise<SlidingWindowReply> {
  const options = { keys: [args.key], arguments: [String(args.windowMs), String(args.limit), args.member] };
  try {
    return parseReply(await client.evalSha(SLIDING_WINDOW_SHA, options));
  } catch (err) {
    if (!isNoScript(err)) throw err;
    return parseReply(await client.eval(SLIDING_WINDOW_LUA, options));
  }
}
