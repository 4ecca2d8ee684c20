/**
 * The supervisor behind `npm start` (infra/scripts/supervisor.mjs) with fake services: real child processes
 * (`node -e`) that crash, print "ready" and wait, or ignore SIGTERM, under a fast policy (delays in tens of
 * milliseconds) so that every restart path really runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@cap/platform-testing';
import { createSupervisor, DEFAULT_POLICY, formatDuration, restartDelayMs, type Supervisor, type SupervisorPolicy } from '../scripts/supervisor.mjs';

const SCRIPTS = {
  /** Fails at start-up, as a service with a bad configuration does. */
  crashes: 'process.exit(1)',
  /** Starts, says it is ready, runs until signalled. */
  runs: 'process.stdout.write("ready\\n"); setInterval(() => {}, 1000)',
  /** As `runs`, but shrugs off SIGTERM. */
  ignoresTerm: 'process.on("SIGTERM", () => {}); process.stdout.write("ready\\n"); setInterval(() => {}, 1000)',
} as const;

type Behaviour = keyof typeof SCRIPTS | 'unlaunchable';
interface FakeService {
  name: string;
  behaviour: Behaviour;
}
interface Launched {
  child: ChildProcess;
  at: number;
  ready: boolean;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const FAST: Partial<SupervisorPolicy> = {
  initialDelayMs: 50,
  maxDelayMs: 200,
  resetAfterMs: 60_000,
  keepsFailingAfter: 4,
  readyPollMs: 20,
  readyTimeoutMs: 10_000,
  stopTimeoutMs: 2_000,
};

/** A supervisor over fake services; every launch and every output line is recorded. */
function superviseFakes(services: FakeService[], policy: Partial<SupervisorPolicy> = FAST) {
  const launches = new Map<string, Launched[]>(services.map((s) => [s.name, []]));
  const lines: { line: string; kind: string; at: number }[] = [];
  const supervisor: Supervisor = createSupervisor<FakeService>({
    services,
    policy,
    launch(service) {
      if (service.behaviour === 'unlaunchable') throw new Error('dist/apps/unlaunchable/node-flags: no such file');
      const child = spawn(process.execPath, ['-e', SCRIPTS[service.behaviour]], { stdio: ['ignore', 'pipe', 'inherit'] });
      const launched: Launched = {
        child,
        at: Date.now(),
        ready: false,
        exit: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
      };
      child.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) launched.ready = true;
      });
      launches.get(service.name)!.push(launched);
      return child;
    },
    isReady: async (service) => launches.get(service.name)!.at(-1)?.ready ?? false,
    log: (line, kind) => lines.push({ line, kind, at: Date.now() }),
  });
  supervisor.start();
  return { supervisor, launches: (name: string) => launches.get(name)!, lines };
}

/** The delays announced by "… restarting it in N ms (attempt k)" lines, in order. */
function announcedDelays(lines: { line: string }[], name: string): number[] {
  return lines.flatMap(({ line }) => {
    const match = new RegExp(`^${name} exited .*; restarting it in (\\d+) ms \\(attempt \\d+\\)$`).exec(line);
    return match ? [Number(match[1])] : [];
  });
}

describe('supervisor (npm start)', () => {
  const running: Supervisor[] = [];
  const track = <T extends { supervisor: Supervisor }>(fakes: T): T => {
    running.push(fakes.supervisor);
    return fakes;
  };
  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.stop()));
  });

  it("when npm start's policy is applied to deaths in a row, then the waits are 1, 2, 4, 8, 16 s and then 30 s for good", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((n) => restartDelayMs(n, DEFAULT_POLICY))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    expect(DEFAULT_POLICY).toMatchObject({ resetAfterMs: 60_000, keepsFailingAfter: 5 });
  });

  it('when a duration is printed, then it reads as ms, s with one decimal, or min and s', () => {
    expect([0, 999, 999.6, 1_000, 8_640, 59_960, 60_000, 125_400].map(formatDuration)).toEqual([
      '0 ms',
      '999 ms',
      '1 s',
      '1 s',
      '8.6 s',
      '1 min',
      '1 min',
      '2 min 5 s',
    ]);
  });

  it('when a service exits with code 1 at every start, then it is restarted with doubling delays up to the cap, and after 4 failures one line says it keeps failing', async () => {
    const { supervisor, launches, lines } = track(superviseFakes([{ name: 'crashy', behaviour: 'crashes' }]));
    await waitFor('six launches of crashy', () => launches('crashy').length >= 6, { timeoutMs: 10_000, intervalMs: 20 });
    await supervisor.stop();

    const delays = announcedDelays(lines, 'crashy');
    expect(delays.slice(0, 5)).toEqual([50, 100, 200, 200, 200]);
    // Each restart really waited at least the announced delay after the previous launch.
    const starts = launches('crashy').map((l) => l.at);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(delays[i - 1]! - 1);

    expect(lines[0]?.line).toMatch(/^crashy exited \(exit code 1\) after \d+ ms; restarting it in 50 ms \(attempt 1\)$/);
    expect(lines[0]?.kind).toBe('exited');
    const failing = lines.filter((l) => l.kind === 'failing');
    expect(failing).toHaveLength(1);
    expect(failing[0]!.line).toMatch(
      /^crashy keeps failing: 4 exits in a row, none stayed ready for 1 min \(last: exit code 1\)\. Still restarting it, backing off to one attempt every 200 ms;/,
    );
    // Said once, right after the fourth exit line.
    expect(lines.findIndex((l) => l.kind === 'failing')).toBe(lines.findIndex((l) => l.line.includes('(attempt 4)')) + 1);
  });

  it('when a ready service is killed with SIGKILL, then it is restarted after the first delay and a line says it is ready again', async () => {
    const { supervisor, launches, lines } = track(superviseFakes([{ name: 'steady', behaviour: 'runs' }]));
    expect(await supervisor.waitUntilReady('steady', 10_000)).toBe(true);
    const first = supervisor.status('steady').pid!;

    process.kill(first, 'SIGKILL');
    await waitFor('steady ready again in a new process', () => {
      const { pid, ready } = supervisor.status('steady');
      return ready && pid !== first;
    });

    const second = supervisor.status('steady');
    expect(second).toMatchObject({ ready: true, attempt: 1, failuresInARow: 1, restarts: 1, restartPending: false });
    expect(second.pid).toBe(launches('steady')[1]!.child.pid);
    expect(lines.map((l) => l.kind)).toEqual(['exited', 'ready']);
    expect(lines[0]!.line).toMatch(/^steady exited \(killed by SIGKILL\) after \d+(\.\d)? m?s; restarting it in 50 ms \(attempt 1\)$/);
    expect(lines[1]!.line).toMatch(new RegExp(`^steady is ready again \\(attempt 1, pid ${second.pid}\\), (\\d+ ms|[\\d.]+ s) after it exited$`));
  });

  it('when a restarted service stays ready for resetAfterMs, then its next death waits the first delay again', async () => {
    const { supervisor, lines } = track(superviseFakes([{ name: 'steady', behaviour: 'runs' }], { ...FAST, resetAfterMs: 1_000 }));
    await supervisor.waitUntilReady('steady', 10_000);
    // Two deaths in quick succession: the second waits twice as long.
    for (const n of [1, 2]) {
      const pid = supervisor.status('steady').pid!;
      process.kill(pid, 'SIGKILL');
      await waitFor(`restart ${n} ready`, () => supervisor.status('steady').ready && supervisor.status('steady').pid !== pid, { intervalMs: 10 });
    }
    expect(announcedDelays(lines, 'steady')).toEqual([50, 100]);

    await waitFor('the row of failures to be reset', () => supervisor.status('steady').failuresInARow === 0, { timeoutMs: 5_000, intervalMs: 20 });
    const pid = supervisor.status('steady').pid!;
    process.kill(pid, 'SIGKILL');
    await waitFor('third restart ready', () => supervisor.status('steady').ready && supervisor.status('steady').pid !== pid);
    expect(announcedDelays(lines, 'steady')).toEqual([50, 100, 50]);
    expect(lines.at(-1)!.line).toMatch(/^steady is ready again \(attempt 1,/);
  });

  it('when stop() is called, then running services get SIGTERM, a pending restart is cancelled and nothing is started again', async () => {
    const policy = { ...FAST, initialDelayMs: 300, maxDelayMs: 300 };
    const { supervisor, launches, lines } = track(
      superviseFakes(
        [
          { name: 'steady', behaviour: 'runs' },
          { name: 'crashy', behaviour: 'crashes' },
        ],
        policy,
      ),
    );
    await supervisor.waitUntilReady('steady', 10_000);
    await waitFor('crashy waiting for its restart', () => supervisor.status('crashy').restartPending);
    const linesBefore = lines.length;

    await supervisor.stop();

    await expect(launches('steady')[0]!.exit).resolves.toEqual({ code: null, signal: 'SIGTERM' });
    expect(supervisor.status('steady')).toMatchObject({ pid: undefined, ready: false, restartPending: false });
    expect(supervisor.status('crashy')).toMatchObject({ pid: undefined, restartPending: false });
    // Longer than the cancelled restart's delay: had it not been cancelled, it would have run by now.
    await sleep(policy.initialDelayMs * 2);
    expect(launches('steady')).toHaveLength(1);
    expect(launches('crashy')).toHaveLength(1);
    expect(lines.slice(linesBefore)).toEqual([]);
    await expect(supervisor.waitUntilReady('steady', 1_000)).resolves.toBe(false);
  });

  it('when a service ignores SIGTERM, then stop() kills it with SIGKILL after stopTimeoutMs and does not restart it', async () => {
    const { supervisor, launches, lines } = track(superviseFakes([{ name: 'stubborn', behaviour: 'ignoresTerm' }], { ...FAST, stopTimeoutMs: 200 }));
    await supervisor.waitUntilReady('stubborn', 10_000);
    const started = Date.now();
    await supervisor.stop();
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    await expect(launches('stubborn')[0]!.exit).resolves.toEqual({ code: null, signal: 'SIGKILL' });
    expect(lines).toEqual([]);
  });

  it('when a service cannot even be spawned, then that counts as a failed start: a line says why and a restart is pending', async () => {
    const { supervisor, lines } = track(
      superviseFakes([{ name: 'unlaunchable', behaviour: 'unlaunchable' }], { ...FAST, initialDelayMs: 5_000, maxDelayMs: 5_000 }),
    );
    expect(lines.map((l) => l.line)).toEqual([
      expect.stringMatching(
        /^unlaunchable exited \(could not be started: dist\/apps\/unlaunchable\/node-flags: no such file\) after \d+ ms; restarting it in 5 s \(attempt 1\)$/,
      ),
    ]);
    expect(supervisor.status('unlaunchable')).toMatchObject({ pid: undefined, ready: false, restartPending: true, failuresInARow: 1 });
  });
});
