import type { BasicClientSideCache } from 'redis';
import { createLogger } from '@cap/platform-logger';
import { createRedis, type RedisClient } from '@cap/platform-redis';
import { startTcpProxy, testEndpoints, uniqueId, waitFor, type TcpProxy } from '@cap/platform-testing';
import type { Operator } from '../src/session/session.model';
import { SessionStore } from '../src/session/session.store';

/**
 * Two gateway replicas' session stores, each on its own Redis connection with server-assisted client-side
 * caching (as main.ts sets them up), against the real Redis: a session read once is served from memory, and
 * Logoff or expiry on either replica ends it on both.
 */
const logger = createLogger({ service: 'test', level: 'silent' });
const operator: Operator = { id: '1', login: 'admin', label: 'Administrator', rights: ['admin'], timezone: 'UTC' };

describe('sessions cached in memory with Redis invalidation', () => {
  const clients: RedisClient[] = [];
  let keyPrefix: string;

  const replica = async (url = testEndpoints().redisUrl, sessionTtlMs = 60_000) => {
    const redis = await createRedis({ url, logger, clientSideCache: { maxEntries: 100, ttlMs: 60_000 } });
    clients.push(redis);
    return { redis, store: new SessionStore({ redis, keyPrefix, sessionTtlMs, longSessionTtlMs: sessionTtlMs }) };
  };
  const hits = (redis: RedisClient) => (redis.clientSideCache as BasicClientSideCache).stats().hitCount;

  beforeEach(() => {
    keyPrefix = `test:${uniqueId('sess')}:`;
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  });

  it('when a session is read again, then it comes from memory, and the security token is still checked', async () => {
    const a = await replica();
    const b = await replica();
    const issued = await a.store.create(operator, false);
    expect(await b.store.find(issued.sessionToken, issued.securityToken, true)).toMatchObject({ operator: { login: 'admin' } });
    const before = hits(b.redis);
    for (let i = 0; i < 5; i++) expect(await b.store.find(issued.sessionToken, issued.securityToken, true)).toBeDefined();
    expect(hits(b.redis) - before).toBe(5);
    expect(await b.store.find(issued.sessionToken, '@wrong==', true)).toBeUndefined();
    expect(await b.store.find(issued.sessionToken, undefined, true)).toBeUndefined();
  });

  it('when one replica logs a session off, then the other stops accepting it at once', async () => {
    const a = await replica();
    const b = await replica();
    const issued = await a.store.create(operator, false);
    await b.store.find(issued.sessionToken, issued.securityToken, true);
    expect(await b.store.find(issued.sessionToken, issued.securityToken, true)).toBeDefined(); // cached on b
    expect(await a.store.delete(issued.sessionToken)).toBe(true);
    await waitFor('the other replica to drop the session', async () => (await b.store.find(issued.sessionToken, issued.securityToken, true)) === undefined, {
      timeoutMs: 1_000,
      intervalMs: 5,
    });
    // … and the replica that logged off never served it again.
    expect(await a.store.find(issued.sessionToken, issued.securityToken, true)).toBeUndefined();
  });

  it('when a cached session expires, then it is refused although its copy is in memory', async () => {
    const a = await replica(testEndpoints().redisUrl, 400);
    const issued = await a.store.create(operator, false);
    expect(await a.store.find(issued.sessionToken, issued.securityToken, true)).toBeDefined();
    expect(await a.store.find(issued.sessionToken, issued.securityToken, true)).toBeDefined();
    await waitFor('the session to expire', async () => (await a.store.find(issued.sessionToken, issued.securityToken, true)) === undefined, {
      timeoutMs: 3_000,
      intervalMs: 50,
    });
  });

  describe('when the connection to Redis drops', () => {
    let proxy: TcpProxy;
    beforeEach(async () => {
      const url = new URL(testEndpoints().redisUrl);
      proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 6379) });
    });
    afterEach(() => proxy.stop());

    it('then the cached copies are dropped, so a Logoff missed meanwhile cannot be ignored', async () => {
      const a = await replica();
      const b = await replica(proxy.url('redis', '/0'));
      const issued = await a.store.create(operator, false);
      await b.store.find(issued.sessionToken, issued.securityToken, true);
      expect((b.redis.clientSideCache as BasicClientSideCache).size()).toBe(1);
      await proxy.stop();
      await a.store.delete(issued.sessionToken); // b cannot hear the invalidation
      await waitFor('the cache to be cleared on the connection error', () => (b.redis.clientSideCache as BasicClientSideCache).size() === 0, {
        timeoutMs: 5_000,
      });
      await proxy.start();
      await waitFor('b to reconnect', () => b.redis.isReady, { timeoutMs: 5_000 });
      expect(await b.store.find(issued.sessionToken, issued.securityToken, true)).toBeUndefined();
    });
  });
});
