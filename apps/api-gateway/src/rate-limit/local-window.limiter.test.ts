import { createLocalWindowLimiter } from './local-window.limiter';

function clock(start = 1_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('local sliding window', () => {
  it('when calls arrive faster than the limit, then exactly `limit` are admitted within the window', () => {
    const c = clock();
    const limiter = createLocalWindowLimiter({ now: c.now });
    const results = Array.from({ length: 5 }, () => limiter.decide('k', 3, 1000));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false, false]);
    expect(results[3]).toMatchObject({ count: 3, oldest: 1_000 });
  });

  it('when the oldest call is exactly one window old, then it has left and one more call fits', () => {
    const c = clock();
    const limiter = createLocalWindowLimiter({ now: c.now });
    limiter.decide('k', 2, 1000);
    c.advance(400);
    limiter.decide('k', 2, 1000);
    c.advance(599);
    expect(limiter.decide('k', 2, 1000).allowed).toBe(false); // t=1999: both still inside (t-1000, t]
    c.advance(1);
    expect(limiter.decide('k', 2, 1000)).toMatchObject({ allowed: true, count: 2, oldest: 1_400 }); // t=2000: first left
    expect(limiter.decide('k', 2, 1000).allowed).toBe(false);
  });

  it('when a fixed-window limiter would admit 2× the limit across an edge, then the sliding window admits only the limit', () => {
    const c = clock(0);
    const limiter = createLocalWindowLimiter({ now: c.now });
    let admitted = 0;
    c.advance(990);
    for (let i = 0; i < 10; i++) admitted += limiter.decide('k', 10, 1000).allowed ? 1 : 0;
    c.advance(20); // across the edge at t=1000
    for (let i = 0; i < 10; i++) admitted += limiter.decide('k', 10, 1000).allowed ? 1 : 0;
    expect(admitted).toBe(10);
  });

  it('when keys differ, then their windows are independent', () => {
    const limiter = createLocalWindowLimiter({ now: clock().now });
    expect(limiter.decide('a', 1, 1000).allowed).toBe(true);
    expect(limiter.decide('a', 1, 1000).allowed).toBe(false);
    expect(limiter.decide('b', 1, 1000).allowed).toBe(true);
  });

  it('when many calls flow for a long time, then a key never holds more than its limit and stays exact', () => {
    const c = clock(0);
    const limiter = createLocalWindowLimiter({ now: c.now });
    const admittedAt: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      c.advance(i % 7 === 0 ? 3 : 0.25);
      if (limiter.decide('k', 50, 100).allowed) admittedAt.push(c.now());
    }
    // In any window (t-100, t] ending at an admitted call, at most 50 admitted calls.
    let lo = 0;
    for (let hi = 0; hi < admittedAt.length; hi++) {
      while (admittedAt[lo]! <= admittedAt[hi]! - 100) lo++;
      expect(hi - lo + 1).toBeLessThanOrEqual(50);
    }
    expect(admittedAt.length).toBeGreaterThan(0.9 * 50 * (c.now() / 100));
  });

  it('when keys go idle, then they are swept; beyond maxKeys the oldest key is dropped', () => {
    const c = clock(0);
    const limiter = createLocalWindowLimiter({ now: c.now, maxKeys: 3, sweepIntervalMs: 5_000 });
    for (const k of ['a', 'b', 'c']) limiter.decide(k, 1, 1000);
    limiter.decide('d', 1, 1000); // full, nothing expired: 'a' dropped
    expect(limiter.size).toBe(3);
    expect(limiter.decide('a', 1, 1000).allowed).toBe(true); // forgotten, so admitted again (fail-open)
    c.advance(6_000);
    limiter.decide('e', 1, 1000); // sweep: every other key is idle
    expect(limiter.size).toBe(1);
  });
});
