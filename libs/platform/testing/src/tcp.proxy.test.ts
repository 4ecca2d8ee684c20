import { connect, createServer, type Server, type Socket } from 'node:net';
import { startTcpProxy, type TcpProxy } from './tcp.proxy';

/** An echo server, and a client through the proxy that collects what comes back. */
async function echoBehindProxy(): Promise<{ server: Server; proxy: TcpProxy; open(): Promise<{ socket: Socket; received(): string }> }> {
  const server = createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: (server.address() as { port: number }).port });
  return {
    server,
    proxy,
    open: async () => {
      const socket = connect(proxy.port, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      return { socket, received: () => text };
    },
  };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean) {
  for (let i = 0; i < 200 && !cond(); i++) await tick(5);
}

describe('startTcpProxy', () => {
  it('when stalled, then open and new connections stay up but nothing goes through; resumed, what was held arrives in order', async () => {
    const { server, proxy, open } = await echoBehindProxy();
    try {
      const before = await open();
      before.socket.write('a');
      await until(() => before.received() === 'a');
      expect(before.received()).toBe('a');

      proxy.stall();
      before.socket.write('b');
      before.socket.write('c');
      const during = await open();
      during.socket.write('x');
      await tick(100);
      expect([before.received(), during.received(), before.socket.destroyed, during.socket.destroyed]).toEqual(['a', '', false, false]);

      proxy.resume();
      await until(() => before.received() === 'abc' && during.received() === 'x');
      expect([before.received(), during.received()]).toEqual(['abc', 'x']);
      for (const c of [before, during]) c.socket.destroy();
    } finally {
      await proxy.stop();
      server.close();
    }
  });

  it('when stopped, then connections are cut; started again, new ones go through', async () => {
    const { server, proxy, open } = await echoBehindProxy();
    try {
      const first = await open();
      const closed = new Promise((resolve) => first.socket.once('close', resolve));
      await proxy.stop();
      await closed;
      await proxy.start();
      const second = await open();
      second.socket.write('back');
      await until(() => second.received() === 'back');
      expect(second.received()).toBe('back');
      second.socket.destroy();
    } finally {
      await proxy.stop();
      server.close();
    }
  });
});
