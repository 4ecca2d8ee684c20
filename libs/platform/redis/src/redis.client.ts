import { createClient } from 'redis';
import type { Logger } from '@cap/platform-logger';

export type RedisClient = ReturnType<typeof createClient>;

export interface RedisOptions {
  url: string;
  logger: Logger;
  /** Commands fail fast while disconnected instead of queueing (callers have their own fallbacks). */
  connectTimeoutMs?: number;
}

/**
 * A node-redis client that reconnects forever with capped backoff and never crashes the process on a
 * connection error. Commands issued while disconnected fail at once (no offline queue), so a caller's
 * fallback (e.g. the gateway's in-process limiter) can decide within its own time budget.
 */
export async function createRedis(options: RedisOptions): Promise<RedisClient> {
  const logger = options.logger.child({ module: 'redis' });
  const client = createClient({
    url: options.url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 2_000,
      reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 1_000),
    },
  });
  let lastErrorLog = 0;
  client.on('error', (err: Error) => {
    const now = Date.now();
    if (now - lastErrorLog > 5_000) {
      lastErrorLog = now;
      logger.warn({ event: 'redis.connection.error', err: { message: err.message } }, 'Redis connection error');
    }
  });
  client.on('ready', () => logger.info({ event: 'redis.connection.ready' }, 'Redis ready'));
  // Start connecting without blocking start-up on it: a service whose Redis is down still starts, reports
  // not-ready and serves its fallbacks; node-redis keeps reconnecting in the background.
  const connected = client.connect().then(
    () => true,
    (err: unknown) => {
      logger.warn({ event: 'redis.connect.failed', err }, 'initial Redis connection failed');
      return false;
    },
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([connected, new Promise((resolve) => (timer = setTimeout(resolve, options.connectTimeoutMs ?? 2_000)))]);
  clearTimeout(timer);
  return client;
}

/** Readiness probe: PING answered while connected. */
export async function checkRedis(client: RedisClient): Promise<void> {
  if (!client.isReady) throw new Error('Redis is not connected');
  const reply = await client.ping();
  if (reply !== 'PONG') throw new Error(`unexpected PING reply ${String(reply)}`);
}
