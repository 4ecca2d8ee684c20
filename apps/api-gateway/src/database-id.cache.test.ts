import type { Downstreams } from './downstream.client';
import { createDatabaseIdCache, DATABASE_ID_TTL_MS } from './database-id.cache';

function setUp(answers: (() => string)[]) {
  const calls: { service: string; method: string; params: unknown }[] = [];
  let time = 1_000;
  const downstreams: Downstreams = {
    async call<R>(service: string, method: string, params: unknown) {
      calls.push({ service, method, params });
      const next = answers.shift();
      if (!next) throw new Error('no answer left');
      return { value: next() } as R;
    },
    breakerState: () => 'closed',
  };
  const cache = createDatabaseIdCache({ downstreams, now: () => time });
  return { calls, cache, advance: (ms: number) => (time += ms) };
}

describe('database id cache', () => {
  it('when first asked, then it reads the XtkDatabaseId option from local-store', async () => {
    const { calls, cache } = setUp([() => 'u1']);
    expect(await cache.get()).toBe('u1');
    expect(calls).toEqual([{ service: 'local-store', method: 'option.get', params: { name: 'XtkDatabaseId' } }]);
  });

  it('when asked again within its lifetime, then it answers without calling local-store', async () => {
    const { calls, cache, advance } = setUp([() => 'u1', () => 'u2']);
    await cache.get();
    advance(DATABASE_ID_TTL_MS);
    expect(await cache.get()).toBe('u1');
    expect(calls).toHaveLength(1);
  });

  it('when its lifetime is over, then it reads the option again', async () => {
    const { calls, cache, advance } = setUp([() => 'u1', () => 'u2']);
    await cache.get();
    advance(DATABASE_ID_TTL_MS + 1);
    expect(await cache.get()).toBe('u2');
    expect(calls).toHaveLength(2);
  });

  it('when a read fails, then the error reaches the caller and the next call reads again', async () => {
    const { calls, cache } = setUp([
      () => {
        throw new Error('local-store down');
      },
      () => 'u1',
    ]);
    await expect(cache.get()).rejects.toThrow('local-store down');
    expect(await cache.get()).toBe('u1');
    expect(calls).toHaveLength(2);
  });
});
