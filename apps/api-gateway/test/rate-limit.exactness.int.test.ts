import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { testEndpoints, uniqueId } from '@cap/platform-testing';
import type { DriverOptions, DriverResult } from './fixtures/rate-limit.driver';

const ROOT = join(__dirname, '..', '..', '..');
const DRIVER = join(__dirname, 'fixtures', 'rate-limit.driver.ts');

interface Driver {
  child: ChildProcess;
  next(): Promise<unknown>;
  send(line: unknown): void;
  stderr(): string;
}

/** A gateway-like OS process (its own Node, Redis client and limiter), spoken to over stdio. */
function startDriver(options: DriverOptions): Driver {
  const child = spawn(process.execPath, ['--import', 'tsx', DRIVER, JSON.stringify(options)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const queue: unknown[] = [];
  const waiters: ((v: unknown) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const value: unknown = JSON.parse(line);
    const waiter = waiters.shift();
    if (waiter) waiter(value);
    else queue.push(value);
  });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`driver exited (${code}) early: ${err}`))));
  exited.catch(() => undefined);
  return {
    child,
    next: () => (queue.length > 0 ? Promise.resolve(queue.shift()) : Promise.race([new Promise((resolve) => waiters.push(resolve)), exited])),
    send: (line) => child.stdin!.write(`${JSON.stringify(line)}\n`),
    stderr: () => err,
  };
}

/** Largest number of timestamps in any window (t - windowUs, t] (equivalently, any half-open window of that length). */
function maxInAnyWindow(sortedUs: number[], windowUs: number): number {
  let max = 0;
  let lo = 0;
  for (let hi = 0; hi < sortedUs.length; hi++) {
    while (sortedUs[lo]! <= sortedUs[hi]! - windowUs) lo++;
    max = Math.max(max, hi - lo + 1);
  }
  return max;
}

describe('rate limiter: exact sliding window shared by two gateway processes (L1)', () => {
  const drivers: Driver[] = [];
  afterAll(() => {
    for (const d of drivers) if (d.child.exitCode === null) d.child.kill('SIGKILL');
  });

  it('when two processes burst at 2× the limit on both sides of 36 window edges, then no sliding window ever admits more than the limit, and the limit is used', async () => {
    const windowMs = 150;
    const limit = 20;
    const windows = 36;
    const common = {
      redisUrl: testEndpoints().redisUrl,
      keyPrefix: `${uniqueId('rl_l1')}:`,
      windowMs,
      limit,
      windows,
      api: 'xtk:session#Logon',
      callerId: 'admin',
    };
    drivers.push(startDriver(common), startDriver(common));
    for (const d of drivers) expect(await d.next()).toEqual({ ready: true });

    // Both start on the same window edge (epoch ms multiple of the window: where a fixed window would reset).
    const startAtMs = Math.ceil((Date.now() + 300) / windowMs) * windowMs;
    for (const d of drivers) d.send({ startAtMs });
    const results = (await Promise.all(drivers.map((d) => d.next()))) as DriverResult[];

    const attempts = windows * 2 * (2 * limit + Math.ceil(limit / 2));
    const admitted = results.flatMap((r) => r.admittedUs).sort((a, b) => a - b);
    const denied = results.reduce((n, r) => n + r.denied, 0);
    const ledger = {
      attempts: admitted.length + denied,
      allOnSharedWindow: results.every((r) => Object.keys(r.sources).join() === 'redis'),
      timestampsKnown: admitted.every(Number.isFinite),
      maxInAnySlidingWindow: maxInAnyWindow(admitted, windowMs * 1000),
    };
    expect(ledger).toEqual({ attempts, allOnSharedWindow: true, timestampsKnown: true, maxInAnySlidingWindow: limit });

    // Not trivially denying: the admitted calls fill most of the capacity of the time they span, and both
    // processes got a share of it.
    const spanWindows = (admitted[admitted.length - 1]! - admitted[0]!) / (windowMs * 1000);
    expect(admitted.length).toBeGreaterThanOrEqual(Math.floor(0.8 * limit * spanWindows));
    expect(admitted.length).toBeGreaterThanOrEqual(0.8 * limit * windows);
    for (const r of results) expect(r.admittedUs.length).toBeGreaterThan(0.2 * admitted.length);
  });
});
