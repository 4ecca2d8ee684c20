import { memoUntilFailure } from './memo.until-failure';

describe('memoUntilFailure', () => {
  it('when the first attempt succeeds, then every call shares it and fn runs once', async () => {
    let runs = 0;
    const get = memoUntilFailure(async () => ++runs);
    expect(await Promise.all([get(), get(), get()])).toEqual([1, 1, 1]);
    expect(await get()).toBe(1);
    expect(runs).toBe(1);
  });

  it('when an attempt fails, then its waiting callers get the error and the next call tries again', async () => {
    let runs = 0;
    const get = memoUntilFailure(async () => {
      runs++;
      if (runs === 1) throw new Error('not yet');
      return 'ready';
    });
    const first = await Promise.allSettled([get(), get()]);
    expect(first.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(runs).toBe(1);
    expect(await get()).toBe('ready');
    expect(await get()).toBe('ready');
    expect(runs).toBe(2);
  });
});
