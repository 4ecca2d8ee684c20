import { SERVICES } from '@cap/contracts';
import type { Downstreams } from './downstream.client';

/** How long the gateway reuses the database id it read (Logon and GetUserInfo report it in `serverInfo`). */
export const DATABASE_ID_TTL_MS = 60_000;

/** The instance's database id (the `XtkDatabaseId` option local-store owns), read at most once a minute. */
export interface DatabaseIdCache {
  /** The cached id, or local-store's answer when there is none yet or it has expired; a failed read throws. */
  get(): Promise<string>;
}

export function createDatabaseIdCache(deps: { downstreams: Downstreams; ttlMs?: number; now?: () => number }): DatabaseIdCache {
  const ttlMs = deps.ttlMs ?? DATABASE_ID_TTL_MS;
  const now = deps.now ?? Date.now;
  let cached: { value: string; until: number } | undefined;
  return {
    async get() {
      if (!cached || cached.until < now()) {
        const option = await deps.downstreams.call<{ value: string }>(SERVICES.localStore, 'option.get', { name: 'XtkDatabaseId' });
        cached = { value: option.value, until: now() + ttlMs };
      }
      return cached.value;
    },
  };
}
