import { BasicClientSideCache, createClient } from 'redis';
import type { Logger } from '@cap/platform-logger';
import { exponentialBackoff } from '@cap/platform-resilience';

export type RedisClient = ReturnType<typeof createClient>;

const WATCHDOG_INTERVAL_MS = 5_000;
const STUCK_AFTER_MS = 2_000;

export interface RedisOptions {
  url: string;
  logger: Logger;
  /** Commands fail fast while disconnected instead of queueing (callers have their own fallbacks). */
  connectTimeoutMs?: number;
  /**
   * Server-assisted client-side caching of reads (`GET`…): RESP3 with `CLIENT TRACKING`, so Redis tells this
   * client when a key it read is changed, deleted or expired, on any connection, and the local copy is dropped.
   * The cache is cleared whenever the connection errors or closes, so a copy is never trusted without the
   * invalidation channel. `ttlMs` bounds how long any copy is kept regardless; 0 entries disables caching.
   */
  clientSideCache?: { maxEntries: number; ttlMs: number };
}

/**
 * A node-redis client that reconnects forever with capped backoff and never crashes the process on a
 * connection error. Commands issued while disconnected fail at once (no offline queue), so a caller's
 * fallback (e.g. the gateway's in-process limiter) can decide within its own time budget.
 */
export async function createRedis(options: RedisOptions): Promise<RedisClient> {
  const logger = options.logger.child({ module: 'redis' });
  const cache = options.clientSideCache && options.clientSideCache.maxEntries > 0 ? options.clientSideCache : undefined;
  const client = createClient({
    url: options.url,
    ...(cache ? { RESP: 3, clientSideCache: new BasicClientSideCache({ maxEntries: cache.maxEntries, ttl: cache.ttlMs, evictPolicy: 'LRU' }) } : {}),
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 2_000,
      reconnectStrategy: (retries) => exponentialBackoff(retries + 1, { initialMs: 50, maxMs: 1_000 }),
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
  // Watchdog: a connection that says it is ready but leaves a PING unanswered is stuck (seen after a reconnect
  // racing a dependency that went away and came back within milliseconds): it is dropped and reopened, so the
  // service heals by itself instead of waiting on it forever.
  let probing = false;
  const watchdog = setInterval(() => {
    if (probing || !client.isReady) return;
    probing = true;
    let timer: NodeJS.Timeout | undefined;
    // setImmediate after the timer: a reply that arrived while the event loop was busy is read first, so a
    // stalled process is not mistaken for a stuck connection.
    const stuck = new Promise<'stuck'>((resolve) => (timer = setTimeout(() => setImmediate(() => resolve('stuck')), STUCK_AFTER_MS)));
    void Promise.race([client.ping().catch(() => 'failed'), stuck])
      .then((answer) => {
        if (answer !== 'stuck' || !client.isReady) return;
        logger.warn({ event: 'redis.connection.stuck', waitedMs: STUCK_AFTER_MS }, 'Redis connection does not answer; reopening it');
        try {
          client.destroy();
        } catch {
          // already closed
        }
        client.connect().catch((err: unknown) => logger.warn({ event: 'redis.reconnect.failed', err }, 'Redis reconnect failed'));
      })
      .finally(() => {
        clearTimeout(timer);
        probing = false;
      });
  }, WATCHDOG_INTERVAL_MS);
  watchdog.unref();
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
  // A RESP3 client answers GET/SET/DEL/PING with the same JS types as a RESP2 one (strings, numbers, null).
  return client as unknown as RedisClient;
}

/** Readiness probe: PING answered while connected. */
export async function checkRedis(client: RedisClient): Promise<void> {
  if (!client.isReady) throw new Error('Redis is not connected');
  const reply = await client.ping();
  if (reply !== 'PONG') throw new Error(`unexpected PING reply ${String(reply)}`);
}
