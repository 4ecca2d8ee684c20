import { exponentialBackoff } from './exponential.backoff';

describe('exponentialBackoff', () => {
  it('when retries follow one another, then the wait doubles from the initial wait up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((attempt) => exponentialBackoff(attempt, { initialMs: 100, maxMs: 1_000 }))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('when the attempt is 0 or below, then it waits the initial wait', () => {
    expect(exponentialBackoff(0, { initialMs: 250, maxMs: 4_000 })).toBe(250);
    expect(exponentialBackoff(-3, { initialMs: 250, maxMs: 4_000 })).toBe(250);
  });

  it('when the attempt is huge, then the wait is the cap, a finite number', () => {
    expect(exponentialBackoff(10_000, { initialMs: 60_000, maxMs: 900_000 })).toBe(900_000);
    expect(exponentialBackoff(Number.MAX_SAFE_INTEGER, { initialMs: 0, maxMs: 5 })).toBe(0);
    expect(exponentialBackoff(10_000, { initialMs: 1, maxMs: Number.MAX_SAFE_INTEGER })).toBe(2 ** 30);
  });

  it('when jitter is asked for, then the wait lies between half of the computed one and all of it', () => {
    const policy = { initialMs: 200, maxMs: 5_000, jitter: 'equal' as const };
    expect(exponentialBackoff(3, policy, () => 0)).toBe(400);
    expect(exponentialBackoff(3, policy, () => 0.999999)).toBe(800);
    expect(exponentialBackoff(3, policy, () => 0.5)).toBe(600);
    expect(exponentialBackoff(9, policy, () => 0)).toBe(2_500);
    for (let i = 0; i < 100; i++) {
      const wait = exponentialBackoff(2, policy);
      expect(wait).toBeGreaterThanOrEqual(200);
      expect(wait).toBeLessThanOrEqual(400);
    }
  });
});
