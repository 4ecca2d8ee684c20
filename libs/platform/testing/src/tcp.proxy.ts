import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  url(scheme: string, path?: string): string;
  /** Cuts every connection and stops listening: to its clients the dependency is gone. */
  stop(): Promise<void>;
  /** Listens again on the same port: the dependency is back. */
  start(): Promise<void>;
  /**
   * Connections stay up but nothing is forwarded any more (new connections are accepted and stall too): to its
   * clients the dependency hangs without an error, like a half-open TCP connection or a frozen server.
   */
  stall(): void;
  /** Forwards again, delivering what was held back, in order. */
  resume(): void;
}

/**
 * A TCP relay in front of a real dependency (PostgreSQL, Redis), so a test can take that dependency away from
 * one service and give it back without stopping the shared server (stop/start), or make it hang (stall/resume).
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  let server: Server | undefined;
  let port = 0;
  let stalled = false;
  // Stalled, a connection is unpiped and paused: what arrives waits in the sockets' buffers, and goes on when piped again.
  const hold = ({ client, upstream }: { client: Socket; upstream: Socket }) => {
    client.unpipe(upstream);
    upstream.unpipe(client);
    client.pause();
    upstream.pause();
  };
  const forward = ({ client, upstream }: { client: Socket; upstream: Socket }) => {
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = connect(target);
        const pair = { client, upstream };
        sockets.add(client);
        sockets.add(upstream);
        pairs.add(pair);
        const close = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
          pairs.delete(pair);
        };
        client.on('error', close).on('close', close);
        upstream.on('error', close).on('close', close);
        if (stalled) hold(pair);
        else forward(pair);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });

  await listen();
  return {
    get port() {
      return port;
    },
    url: (scheme, path = '') => `${scheme}://127.0.0.1:${port}${path}`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        sockets.clear();
        pairs.clear();
        if (!server) return resolve();
        server.close(() => resolve());
        server = undefined;
      }),
    start: listen,
    stall() {
      if (stalled) return;
      stalled = true;
      for (const pair of pairs) hold(pair);
    },
    resume() {
      if (!stalled) return;
      stalled = false;
      for (const pair of pairs) forward(pair);
    },
  };
}
