import type { Logger } from '@cap/platform-logger';
import type { Pool, PoolClient } from './pg.pool';

export interface PgListenerOptions {
  pool: Pool;
  /** The NOTIFY channel (an identifier). */
  channel: string;
  logger: Logger;
  onNotification(payload: string): void;
  /**
   * Runs each time LISTEN is in place, at start and after every reconnection: notifications sent while nobody
   * listened are lost, so this is where the listener catches up (e.g. republishes everything once).
   */
  onListening?(): Promise<void>;
  /** Wait between reconnection attempts. Default 1 s. */
  retryMs?: number;
}

export interface PgListener {
  /** Rejects while no connection is listening. */
  check(): Promise<void>;
  stop(): Promise<void>;
}

const CHANNEL = /^[a-z_][a-z0-9_]*$/;

/**
 * LISTEN on a dedicated pool connection, reconnecting for as long as it runs. A lost connection is given back
 * destroyed (exactly once) and replaced after `retryMs`; `onListening` runs again once LISTEN is back.
 */
export function startPgListener(options: PgListenerOptions): PgListener {
  if (!CHANNEL.test(options.channel)) throw new Error(`refusing channel name '${options.channel}'`);
  const retryMs = options.retryMs ?? 1_000;
  let stopped = false;
  let current: PoolClient | undefined;
  let timer: NodeJS.Timeout | undefined;
  const released = new WeakSet<PoolClient>();
  const release = (client: PoolClient) => {
    if (released.has(client)) return;
    released.add(client);
    client.release(true);
  };
  const retry = () => {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, retryMs);
    timer.unref();
  };
  const connect = async () => {
    let client: PoolClient | undefined;
    try {
      client = await options.pool.connect();
      const listening = client;
      listening.on('notification', (msg) => {
        if (msg.channel === options.channel) options.onNotification(msg.payload ?? '');
      });
      listening.on('error', (err) => {
        if (released.has(listening)) return;
        options.logger.warn({ event: 'pg.listen.lost', channel: options.channel, err: { message: err.message } }, 'notification connection lost; reconnecting');
        release(listening);
        if (current === listening) current = undefined;
        retry();
      });
      await listening.query(`LISTEN ${options.channel}`);
      if (stopped || released.has(listening)) {
        release(listening);
        return;
      }
      current = listening;
      await options.onListening?.();
    } catch (err) {
      if (client) {
        release(client);
        if (current === client) current = undefined;
      }
      options.logger.warn({ event: 'pg.listen.failed', channel: options.channel, err: { message: (err as Error).message } }, 'cannot LISTEN; retrying');
      retry();
    }
  };
  void connect();
  return {
    async check() {
      if (!current) throw new Error(`not listening on ${options.channel}`);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (current) release(current);
      current = undefined;
    },
  };
}
