import { Writable } from 'node:stream';
import type { Worker as WorkerType } from 'node:worker_threads';
import { createLogger } from '@cap/platform-logger';
import { createScriptSandbox } from './workflow-script.sandbox';
import type { ScriptInput } from './workflow-script.protocol';

// The real worker_threads, except that the OS refuses threads after the first (as under a process or memory
// limit: `new Worker` throws ERR_WORKER_INIT_FAILED).
const threads: { made: WorkerType[]; allowed: number } = { made: [], allowed: 1 };
jest.mock('node:worker_threads', () => {
  const actual = jest.requireActual<typeof import('node:worker_threads')>('node:worker_threads');
  class LimitedWorker extends actual.Worker {
    constructor(...args: ConstructorParameters<typeof actual.Worker>) {
      if (threads.made.length >= threads.allowed) throw Object.assign(new Error('ERR_WORKER_INIT_FAILED: EAGAIN'), { code: 'ERR_WORKER_INIT_FAILED' });
      super(...args);
      threads.made.push(this);
    }
  }
  return { ...actual, Worker: LimitedWorker };
});

const quiet = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const input: ScriptInput = { vars: {}, instanceVars: {}, taskVars: {}, instance: { id: '42', internalName: 'WKF42' }, task: { id: '7', activity: 'js' } };
const limits = { cpuMs: 2_000, wallMs: 10_000, memoryBytes: 16 * 1024 * 1024, stackBytes: 256 * 1024 };

describe('workflow script sandbox when the OS refuses a worker thread', () => {
  it('when its only worker dies and no replacement can start, then the running and the waiting scripts fail with a reason, and nothing is thrown', async () => {
    const sandbox = createScriptSandbox({ workers: 1, limits, logger: quiet });
    let holding: () => void = () => undefined;
    const entered = new Promise<void>((resolve) => (holding = resolve));
    // The first script waits on a host call that never answers, so the second one queues behind it.
    const host = { call: () => (holding(), new Promise<never>(() => undefined)), log: () => undefined };
    try {
      const first = sandbox.run({ source: 'getOption("hold");', input }, host);
      await entered;
      const second = sandbox.run({ source: 'vars.x = 1;', input }, host);
      expect(sandbox.stats()).toMatchObject({ workers: 1, busy: 1, queued: 1 });
      // The worker ends (crashed or killed): its 'exit' handler retires it and tries to start a replacement.
      await threads.made[0]!.terminate();
      await expect(first).resolves.toMatchObject({ ok: false, kind: 'internal', message: expect.stringContaining("the script's worker stopped") });
      await expect(second).resolves.toMatchObject({ ok: false, kind: 'internal', message: 'the script sandbox could not start a worker' });
      // A later script gets the same answer at once, rather than a rejection.
      await expect(sandbox.run({ source: 'vars.x = 2;', input }, host)).resolves.toMatchObject({
        ok: false,
        message: 'the script sandbox could not start a worker',
      });
      expect(sandbox.stats()).toEqual({ workers: 0, busy: 0, queued: 0 });
    } finally {
      await sandbox.close();
    }
  });
});
