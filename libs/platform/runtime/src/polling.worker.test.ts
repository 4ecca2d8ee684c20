import { startPollingWorker, type PollingRound, type PollingRoundResult } from './polling.worker';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, timeoutMs = 2_000) {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await tick(2);
  }
}

describe('startPollingWorker', () => {
  it('when rounds fail, then each failure is reported with its count and the worker carries on; check() rejects until a round succeeds; after stop no round starts', async () => {
    const reported: [string, number][] = [];
    let rounds = 0;
    const worker = startPollingWorker({
      name: 'flaky',
      intervalMs: 5,
      round: async () => {
        rounds++;
        if (rounds <= 2) throw new Error(`round ${rounds}`);
      },
      onError: (err, failures) => reported.push([(err as Error).message, failures]),
    });
    await until(() => rounds === 2);
    await expect(worker.check()).rejects.toThrow('flaky failing: round 2');
    await until(() => rounds >= 4);
    await expect(worker.check()).resolves.toBeUndefined();
    await worker.stop();
    const after = rounds;
    await tick(30);
    expect(rounds).toBe(after);
    expect(reported).toEqual([
      ['round 1', 1],
      ['round 2', 2],
    ]);
  });

  it('when stopped during a round, then the round sees the abort and stop waits for it to end', async () => {
    let release!: () => void;
    let sawAbort = false;
    const worker = startPollingWorker({
      name: 'slow',
      intervalMs: 1,
      firstRound: 'now',
      round: ({ signal }) =>
        new Promise<void>((resolve) => {
          release = () => {
            sawAbort = signal.aborted;
            resolve();
          };
        }),
      onError: () => undefined,
    });
    await until(() => release !== undefined);
    const stopping = worker.stop();
    setTimeout(() => release(), 20);
    await stopping;
    expect(sawAbort).toBe(true);
  });

  it('when rounds find nothing, then the wait doubles up to the idle maximum, never past what is due; a round with work brings the interval back', async () => {
    const starts: number[] = [];
    let result: PollingRoundResult = false;
    const worker = startPollingWorker({
      name: 'idle',
      intervalMs: 10,
      idleMaxMs: 80,
      round: async () => {
        starts.push(Date.now());
        return result;
      },
      onError: () => undefined,
    });
    await until(() => starts.length >= 6);
    result = true;
    const busyFrom = starts.length;
    await until(() => starts.length >= busyFrom + 3);
    result = { foundWork: false, dueInMs: 15 };
    const dueFrom = starts.length;
    await until(() => starts.length >= dueFrom + 5);
    await worker.stop();
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    // idle: 10, 20, 40, 80, 80 ms (timers fire late, never early)
    expect(gaps.slice(0, 5).map((g, i) => g >= [10, 20, 40, 80, 80][i]! - 2)).toEqual([true, true, true, true, true]);
    expect(Math.min(...gaps.slice(busyFrom, dueFrom - 1))).toBeLessThan(40);
    // something due in 15 ms: idle waits of 10, 15, 15, 15 ms instead of 10, 20, 40, 80
    expect(Math.max(...gaps.slice(dueFrom + 1, dueFrom + 4))).toBeLessThan(60);
  });

  it('when woken during a long idle wait, then a round runs at once, told it was woken, and the idle back-off starts again', async () => {
    const rounds: PollingRound[] = [];
    const worker = startPollingWorker({
      name: 'w',
      intervalMs: 10,
      idleMaxMs: 10_000,
      firstRound: 'now',
      round: async (r) => (rounds.push(r), false),
      onError: () => undefined,
    });
    await until(() => rounds.length >= 5); // waits: 10, 20, 40, 80, then 160 ms
    const before = rounds.length;
    const wokenAt = Date.now();
    worker.wake();
    await until(() => rounds.length > before);
    expect(Date.now() - wokenAt).toBeLessThan(50);
    expect(rounds[before]!.woken).toBe(true);
    // back-off restarted: the next (idle) round comes after 10 ms, not 320
    await until(() => rounds.length > before + 1, 100);
    expect(rounds[before + 1]!.woken).toBe(false);
    await worker.stop();
  });

  it('when woken during a round, then the next round starts right after it ends', async () => {
    let rounds = 0;
    let release: (() => void) | undefined;
    const worker = startPollingWorker({
      name: 'w',
      intervalMs: 60_000,
      firstRound: 'now',
      round: () =>
        new Promise<boolean>((resolve) => {
          rounds++;
          release = () => resolve(false);
        }),
      onError: () => undefined,
    });
    await until(() => rounds === 1);
    worker.wake();
    release!();
    await until(() => rounds === 2, 200);
    release!();
    await tick(30);
    expect(rounds).toBe(2); // no wake this time: a minute's wait
    await worker.stop();
  });

  it('when a round says more is waiting, then the next runs at once; a failure waits failureWaitMs, which a wake-up does not cut short', async () => {
    const results: (PollingRoundResult | Error)[] = [{ again: true }, { again: true }, new Error('down'), true];
    const starts: number[] = [];
    const worker = startPollingWorker({
      name: 'w',
      intervalMs: 60_000,
      firstRound: 'now',
      round: async () => {
        starts.push(Date.now());
        const next = results.shift();
        if (next instanceof Error) throw next;
        return next;
      },
      onError: () => undefined,
      failureWaitMs: (failures) => 50 * failures,
    });
    await until(() => starts.length === 3);
    worker.wake();
    await until(() => starts.length === 4);
    await worker.stop();
    expect(starts[2]! - starts[0]!).toBeLessThan(30);
    expect(starts[3]! - starts[2]!).toBeGreaterThanOrEqual(48);
  });

  it('when a round asks for a wait that is not wakeable, then wake-ups wait for it to end and stop cuts it short', async () => {
    const starts: number[] = [];
    const worker = startPollingWorker({
      name: 'w',
      intervalMs: 5,
      firstRound: 'now',
      round: async () => (starts.push(Date.now()), { waitMs: 60, wakeable: false }),
      onError: () => undefined,
    });
    await until(() => starts.length === 1);
    worker.wake();
    await until(() => starts.length === 2);
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(58);
    const stopAt = Date.now();
    await worker.stop();
    expect(Date.now() - stopAt).toBeLessThan(30);
  });

  it('when started without firstRound, then the first round runs after the interval', async () => {
    const started = Date.now();
    let first = 0;
    const worker = startPollingWorker({ name: 'w', intervalMs: 40, round: async () => void (first ||= Date.now()), onError: () => undefined });
    await until(() => first > 0);
    await worker.stop();
    expect(first - started).toBeGreaterThanOrEqual(38);
  });
});
