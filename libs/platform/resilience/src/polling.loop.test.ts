import { startPollingLoop } from './polling.loop';

describe('polling loop', () => {
  it('when rounds fail, then each failure is reported and the loop carries on; after stop no round starts', async () => {
    const errors: unknown[] = [];
    let rounds = 0;
    const loop = startPollingLoop({
      intervalMs: 5,
      round: async () => {
        rounds++;
        if (rounds % 2 === 1) throw new Error(`round ${rounds}`);
      },
      onError: (err) => errors.push(err),
    });
    while (rounds < 4) await new Promise((r) => setTimeout(r, 5));
    await loop.stop();
    const after = rounds;
    await new Promise((r) => setTimeout(r, 30));
    expect(rounds).toBe(after);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect((errors[0] as Error).message).toBe('round 1');
  });

  it('when stopped during a round, then stop waits for that round to end', async () => {
    let release!: () => void;
    let ended = false;
    const loop = startPollingLoop({
      intervalMs: 1,
      round: () =>
        new Promise<void>((resolve) => {
          release = () => {
            ended = true;
            resolve();
          };
        }),
      onError: () => undefined,
    });
    while (!release) await new Promise((r) => setTimeout(r, 2));
    const stopping = loop.stop();
    setTimeout(() => release(), 20);
    await stopping;
    expect(ended).toBe(true);
  });

  it('when rounds find nothing, then the loop waits longer and longer up to its idle maximum; a round with work brings the interval back', async () => {
    const starts: number[] = [];
    let found = false;
    const loop = startPollingLoop({
      intervalMs: 10,
      idleMaxMs: 80,
      round: async () => {
        starts.push(Date.now());
        return found;
      },
      onError: () => undefined,
    });
    while (starts.length < 6) await new Promise((r) => setTimeout(r, 5));
    found = true;
    const busyFrom = starts.length;
    while (starts.length < busyFrom + 4) await new Promise((r) => setTimeout(r, 5));
    await loop.stop();
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    // idle: 10, 20, 40, 80, 80 ms (timers fire late, never early)
    expect(gaps.slice(0, 5).map((g, i) => g >= [10, 20, 40, 80, 80][i]! - 2)).toEqual([true, true, true, true, true]);
    expect(gaps[3]).toBeGreaterThanOrEqual(78);
    // busy again: back to the interval
    expect(Math.min(...gaps.slice(busyFrom))).toBeLessThan(78);
  });
});
