import { normaliseQueryDef } from '@cap/campaign-query';
import { createPageCursorCache, getPageQueryKey } from './page-cursor.cache';

describe('page cursor cache (keyset paging)', () => {
  it('when a page end is remembered, then it is found at that end only, until its TTL passes', () => {
    let now = 1_000;
    const cache = createPageCursorCache({ maxEntries: 10, ttlMs: 500, now: () => now });
    cache.remember('q', 100, ['p100']);
    expect(cache.find('q', 100)).toEqual(['p100']);
    expect(cache.find('q', 200)).toBeUndefined();
    expect(cache.find('other', 100)).toBeUndefined();
    now += 500;
    expect(cache.find('q', 100)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('when more ends are remembered than the cache holds, then the least recently used goes first; size 0 holds nothing', () => {
    const cache = createPageCursorCache({ maxEntries: 2, ttlMs: 60_000 });
    cache.remember('q', 1, ['a']);
    cache.remember('q', 2, ['b']);
    expect(cache.find('q', 1)).toEqual(['a']); // 1 is now the most recently used
    cache.remember('q', 3, ['c']);
    expect(cache.find('q', 2)).toBeUndefined();
    expect(cache.find('q', 1)).toEqual(['a']);
    expect(cache.find('q', 3)).toEqual(['c']);

    const off = createPageCursorCache({ maxEntries: 0, ttlMs: 60_000 });
    off.remember('q', 1, ['a']);
    expect(off.enabled).toBe(false);
    expect(off.find('q', 1)).toBeUndefined();
  });

  it('when two requests differ only by startLine, lineCount or attribute order, then they share a key; another operator or where does not', () => {
    const q = (xml: Record<string, unknown>) => normaliseQueryDef({ schema: 'nms:recipient', select: { node: { expr: '@id' } }, ...xml });
    const key = getPageQueryKey('op1', q({ startLine: 0, lineCount: 100 }));
    expect(getPageQueryKey('op1', q({ lineCount: 50, startLine: 300 }))).toBe(key);
    expect(getPageQueryKey('op2', q({ startLine: 0, lineCount: 100 }))).not.toBe(key);
    expect(getPageQueryKey('op1', q({ startLine: 0, where: { condition: { expr: '@id IS NOT NULL' } } }))).not.toBe(key);
  });
});
