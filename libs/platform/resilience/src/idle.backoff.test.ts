import { createIdleBackoff } from './idle.backoff';

describe('createIdleBackoff', () => {
  it('when rounds keep finding work, then the loop keeps its base interval', () => {
    const backoff = createIdleBackoff({ baseMs: 500, idleMaxMs: 5_000 });
    expect([1, 2, 3].map(() => backoff.next({ foundWork: true }))).toEqual([500, 500, 500]);
  });

  it('when rounds find nothing, then the wait doubles from the base interval up to the idle maximum', () => {
    const backoff = createIdleBackoff({ baseMs: 500, idleMaxMs: 5_000 });
    expect([1, 2, 3, 4, 5, 6].map(() => backoff.next({ foundWork: false }))).toEqual([500, 1_000, 2_000, 4_000, 5_000, 5_000]);
  });

  it('when a round finds work or the loop is woken, then the next idle wait starts again from the base interval', () => {
    const backoff = createIdleBackoff({ baseMs: 100, idleMaxMs: 1_000 });
    for (let i = 0; i < 6; i++) backoff.next({ foundWork: false });
    expect(backoff.next({ foundWork: true })).toBe(100);
    expect(backoff.next({ foundWork: false })).toBe(100);
    for (let i = 0; i < 6; i++) backoff.next({ foundWork: false });
    backoff.reset();
    expect(backoff.next({ foundWork: false })).toBe(100);
  });

  it('when something is due before the idle wait ends, then the loop wakes when it is due, but never sooner than the base interval', () => {
    const backoff = createIdleBackoff({ baseMs: 500, idleMaxMs: 10_000 });
    for (let i = 0; i < 6; i++) backoff.next({ foundWork: false });
    expect(backoff.next({ foundWork: false, dueInMs: 2_345 })).toBe(2_345);
    expect(backoff.next({ foundWork: false, dueInMs: 20 })).toBe(500);
    expect(backoff.next({ foundWork: false, dueInMs: -3_000 })).toBe(500);
    expect(backoff.next({ foundWork: false, dueInMs: 60_000 })).toBe(10_000);
  });
});
