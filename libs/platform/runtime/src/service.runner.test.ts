import { Writable } from 'node:stream';
import { createLogger } from '@cap/platform-logger';
import { runService } from './service.runner';

const logger = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

function exitSpy() {
  let resolveExit: (code: number) => void = () => undefined;
  const exited = new Promise<number>((r) => (resolveExit = r));
  return { exit: (code: number) => resolveExit(code), exited };
}

describe('runService', () => {
  afterEach(() => {
    process.removeAllListeners('SIGTERM');
    process.removeAllListeners('SIGINT');
    process.removeAllListeners('uncaughtException');
    process.removeAllListeners('unhandledRejection');
  });

  it('when SIGTERM arrives, then intake stops (not accepting), stop() drains, and the process exits 0', async () => {
    const { exit, exited } = exitSpy();
    const order: string[] = [];
    let isAccepting: () => boolean = () => true;
    await runService({
      name: 'svc',
      logger,
      shutdownTimeoutMs: 1_000,
      exit,
      start: async (state) => {
        isAccepting = state.isAccepting;
        return {
          stop: async () => {
            order.push(`stop:accepting=${String(state.isAccepting())}`);
            await new Promise((r) => setTimeout(r, 20));
            order.push('drained');
          },
        };
      },
    });
    expect(isAccepting()).toBe(true);
    process.emit('SIGTERM', 'SIGTERM');
    expect(await exited).toBe(0);
    expect(order).toEqual(['stop:accepting=false', 'drained']);
  });

  it('when draining outlives the shutdown timeout, then the process exits 1', async () => {
    const { exit, exited } = exitSpy();
    await runService({ name: 'svc', logger, shutdownTimeoutMs: 30, exit, start: async () => ({ stop: () => new Promise<void>(() => undefined) }) });
    process.emit('SIGTERM', 'SIGTERM');
    expect(await exited).toBe(1);
  });

  it('when start fails, then the process exits 1', async () => {
    const { exit, exited } = exitSpy();
    await runService({ name: 'svc', logger, shutdownTimeoutMs: 30, exit, start: async () => Promise.reject(new Error('no database')) });
    expect(await exited).toBe(1);
  });
});
