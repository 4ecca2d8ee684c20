import { createHash } from 'node:crypto';
import type { QueryDef } from '@cap/campaign-query';

/** The sort keys (as text, NULL as null) of the last row of a page served. */
export type PageCursor = readonly (string | null)[];

/**
 * Where the pages of each paged select ended, so that the next page can be read with a keyset condition
 * instead of skipping `startLine` rows. In-process, bounded (least recently used entries go first) and
 * short-lived: a miss (another replica served the previous page, eviction, expiry, restart) only means the
 * page is read with OFFSET.
 */
export interface PageCursorCache {
  /** False when the cache holds nothing (size 0): selects then compile as without keyset paging. */
  readonly enabled: boolean;
  /** The cursor remembered for `query` ending at `endLine` (startLine + rows of the page served). */
  find(query: string, endLine: number): PageCursor | undefined;
  remember(query: string, endLine: number, cursor: PageCursor): void;
  /** Entries held (expired ones included until they are looked up or evicted). */
  readonly size: number;
}

export interface PageCursorCacheOptions {
  /** Most cursors held; 0 disables keyset paging. */
  maxEntries: number;
  /** How long a cursor stays usable after its page was served. */
  ttlMs: number;
  now?: () => number;
}

export function createPageCursorCache(options: PageCursorCacheOptions): PageCursorCache {
  const now = options.now ?? Date.now;
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used entry first.
  const entries = new Map<string, { cursor: PageCursor; expires: number }>();
  const keyOf = (query: string, endLine: number) => `${query}@${endLine}`;
  return {
    enabled: options.maxEntries > 0,
    get size() {
      return entries.size;
    },
    find(query, endLine) {
      const key = keyOf(query, endLine);
      const entry = entries.get(key);
      if (!entry) return undefined;
      entries.delete(key);
      if (entry.expires <= now()) return undefined;
      entries.set(key, entry);
      return entry.cursor;
    },
    remember(query, endLine, cursor) {
      if (options.maxEntries <= 0) return;
      const key = keyOf(query, endLine);
      entries.delete(key);
      entries.set(key, { cursor, expires: now() + options.ttlMs });
      while (entries.size > options.maxEntries) entries.delete(entries.keys().next().value!);
    },
  };
}

/**
 * Identity of a paged select for the cursor cache: who asks, and the normalised queryDef without its
 * `startLine`/`lineCount` (so attribute order, whitespace and page size do not matter), hashed.
 */
export function getPageQueryKey(operatorId: string | undefined, q: QueryDef): string {
  const paging = { startLine: undefined, lineCount: undefined };
  return createHash('sha256')
    .update(`${operatorId ?? ''}\u0000${JSON.stringify({ ...q, ...paging })}`)
    .digest('base64url');
}
