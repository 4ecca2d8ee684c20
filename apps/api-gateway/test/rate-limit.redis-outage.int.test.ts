import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { Registry } from 'prom-client';
import { createLogger, type Logger } from '@cap/platform-logger';
import { createRedis } from '@cap/platform-redis';
import { startTcpProxy, testEndpoints, uniqueId, waitFor, type TcpProxy } from '@cap/platform-testing';
import { createRateLimiter, createSoapAdmission, parseRateLimitConfig, type RateLimiter, type RateLimitRequest } from '../src/rate-limit';
import { createSoapRouter } from '../src/soap/soap.route';
import { createAdmissionDispatcher } from './fixtures/admission.dispatcher';
import { soapEnvelope } from './fixtures/raw-soap';

const redisTarget = (() => {
  const url = new URL(testEndpoints().redisUrl);
  return { host: url.hostname, port: Number(url.port || 6379) };
})();

function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[]; events: (name: string) => number } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: createLogger({ service: 'test', level: 'info', destination }), lines, events: (name) => lines.filter((l) => l['event'] === name).length };
}

interface Sample {
  at: number;
  ms: number;
  source?: 'redis' | 'local';
  allowed?: boolean;
  threw?: string;
}

/** Steady load: `workers` loops, each deciding and pausing `pauseMs`; every decision is timed and kept. */
function startLoad(limiter: RateLimiter, request: RateLimitRequest, workers = 4, pauseMs = 2) {
  const samples: Sample[] = [];
  let running = true;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const at = performance.now();
      try {
        const d = await limiter.decide(request);
        samples.push({ at, ms: performance.now() - at, source: d.source, allowed: d.allowed });
      } catch (err) {
        samples.push({ at, ms: performance.now() - at, threw: String(err) });
      }
      await sleep(pauseMs);
    }
  });
  return {
    samples,
    count: (p: (s: Sample) => boolean) => samples.filter(p).length,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

function maxInAnyWindow(sortedMs: number[], windowMs: number): number {
  let max = 0;
  let lo = 0;
  for (let hi = 0; hi < sortedMs.length; hi++) {
    while (sortedMs[lo]! <= sortedMs[hi]! - windowMs) lo++;
    max = Math.max(max, hi - lo + 1);
  }
  return max;
}

const request = (): RateLimitRequest => ({ api: 'nms:rtEvent#PushEvent', caller: { kind: 'operator', id: uniqueId('op') }, internal: false });

/**
 * L3: the limiter's Redis is taken away (TCP proxy stopped) or made to hang (relay stops forwarding) under
 * load; the shared Redis server itself is never touched.
 */
/**
 * A decision must never hang on Redis. The ≤ 50 ms target (L3) is measured by the benchmark
 * (apps/api-gateway/bench/rate-limit.bench.ts, docs/benchmarks.md) on a quiet machine; here, on shared CI
 * cores where a GC pause or a descheduled process can add tens of milliseconds, the bound only catches hangs.
 */
const DECISION_BOUND_MS = Number(process.env['RATE_LIMIT_DECISION_BOUND_MS'] ?? 250);

describe('rate limiter when its Redis is down or slow (L3)', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
  });

  async function limiterBehind(
    url: string,
    logger: Logger,
    options: { fallback?: 'local' | 'deny'; registry?: Registry; recycleAfterMs?: number; connectWaitMs?: number } = {},
  ) {
    const redis = await createRedis({ url, logger: capturingLogger().logger, connectTimeoutMs: 500 });
    cleanups.push(() => redis.close());
    const limiter = await createRateLimiter({
      redis,
      logger,
      registry: options.registry ?? new Registry(),
      keyPrefix: `${uniqueId('rl_l3')}:`,
      config: parseRateLimitConfig({ windowMs: 1000, default: { limit: 50 }, fallback: options.fallback ?? 'local' }),
      ...(options.recycleAfterMs === undefined ? {} : { recycleAfterMs: options.recycleAfterMs }),
      ...(options.connectWaitMs === undefined ? {} : { connectWaitMs: options.connectWaitMs }),
    });
    cleanups.push(() => limiter.close());
    return limiter;
  }

  it('when Redis goes away mid-load, then every decision completes in bounded time without throwing, limiting continues locally, and the shared window is back within 1 s of Redis returning', async () => {
    const proxy: TcpProxy = await startTcpProxy(redisTarget);
    cleanups.push(() => proxy.stop());
    const { logger, events } = capturingLogger();
    const registry = new Registry();
    const limiter = await limiterBehind(proxy.url('redis', '/0'), logger, { registry });
    expect(limiter.mode).toBe('shared');

    const load = startLoad(limiter, request());
    cleanups.push(() => load.stop());
    await waitFor('decisions on the shared window', () => load.count((s) => s.source === 'redis') >= 200);

    const stoppedAt = performance.now();
    await proxy.stop();
    await waitFor('1.5 s of decisions without Redis', () => load.count((s) => s.at > stoppedAt + 1_500) > 0, { timeoutMs: 10_000, intervalMs: 20 });
    expect(await registry.metrics()).toMatch(/cap_ratelimit_mode\{mode="local"\} 1/);

    await proxy.start();
    const restartedAt = performance.now();
    const back = await waitFor('a decision on the shared window again', () => load.samples.find((s) => s.at >= restartedAt && s.source === 'redis'), {
      timeoutMs: 5_000,
      intervalMs: 10,
    });
    await waitFor('some more shared decisions', () => load.count((s) => s.at > back.at && s.source === 'redis') >= 50);
    await load.stop();

    const outage = load.samples.filter((s) => s.at > stoppedAt + 5 && s.at < restartedAt);
    const localAllowed = outage.filter((s) => s.source === 'local' && s.allowed).map((s) => s.at);
    const ledger = {
      threw: load.samples.filter((s) => s.threw !== undefined).map((s) => s.threw),
      slowerThanBound: load.samples.filter((s) => s.ms > DECISION_BOUND_MS).map((s) => Math.round(s.ms)),
      outageAllLocal: outage.every((s) => s.source === 'local'),
      outageLimitedLocally: outage.some((s) => s.source === 'local' && s.allowed === false),
      localAdmittedWithinLimit: localAllowed.length > 0 && maxInAnyWindow(localAllowed, 1000) <= 50,
      backWithin1s: back.at - restartedAt <= 1_000,
      logged: { local: events('ratelimit.mode.local'), shared: events('ratelimit.mode.shared') },
    };
    console.info(
      `L3 (Redis gone): slowest decision ${Math.round(Math.max(...load.samples.map((x) => x.ms)))} ms; shared window back after ${Math.round(back.at - restartedAt)} ms`,
    );
    expect(ledger).toEqual({
      threw: [],
      slowerThanBound: [],
      outageAllLocal: true,
      outageLimitedLocally: true,
      localAdmittedWithinLimit: true,
      backWithin1s: true,
      // start-up (shared), the outage (local) and the return (shared): changes are logged, not every call.
      logged: { local: expect.any(Number), shared: expect.any(Number) },
    });
    expect(ledger.logged.local).toBeGreaterThanOrEqual(1);
    expect(ledger.logged.local + ledger.logged.shared).toBeLessThanOrEqual(6);
    expect(outage.length).toBeGreaterThan(200);
    // On a busy machine one Redis answer slower than the budget may send a decision local again for a moment:
    // what matters is that the limiter settles on the shared window.
    await waitFor('the limiter settled on the shared window', () => limiter.mode === 'shared', { timeoutMs: 3_000, intervalMs: 20 });
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/cap_ratelimit_mode\{mode="shared"\} 1/);
    expect(metrics).toMatch(/cap_ratelimit_mode_changes_total\{mode="local"\} [1-3]\b/);
  });

  it('when Redis hangs (connection up, no replies), then decisions fall back in bounded time, a stalled connection is replaced, and the shared window is back within 1 s of Redis answering', async () => {
    const proxy: TcpProxy = await startTcpProxy(redisTarget);
    cleanups.push(() => proxy.stop());
    const { logger, events } = capturingLogger();
    const limiter = await limiterBehind(proxy.url('redis', '/0'), logger, { recycleAfterMs: 1_000 });
    expect(limiter.mode).toBe('shared');

    const load = startLoad(limiter, request());
    cleanups.push(() => load.stop());
    await waitFor('decisions on the shared window', () => load.count((s) => s.source === 'redis') >= 100);

    const stalledAt = performance.now();
    proxy.stall();
    await waitFor('the stalled connection to be replaced', () => events('ratelimit.redis.reconnect') >= 1, { timeoutMs: 10_000, intervalMs: 20 });
    proxy.resume();
    const resumedAt = performance.now();
    const back = await waitFor('a decision on the shared window again', () => load.samples.find((s) => s.at >= resumedAt && s.source === 'redis'), {
      timeoutMs: 5_000,
      intervalMs: 10,
    });
    await load.stop();

    const stalled = load.samples.filter((s) => s.at > stalledAt + 50 && s.at < resumedAt);
    expect({
      threw: load.samples.filter((s) => s.threw !== undefined).length,
      slowerThanBound: load.samples.filter((s) => s.ms > DECISION_BOUND_MS).map((s) => Math.round(s.ms)),
      stalledAllLocal: stalled.length > 100 && stalled.every((s) => s.source === 'local'),
      backWithin1s: back.at - resumedAt <= 1_000,
      loggedLocalOnce: events('ratelimit.mode.local'),
    }).toEqual({ threw: 0, slowerThanBound: [], stalledAllLocal: true, backWithin1s: true, loggedLocalOnce: expect.any(Number) });
  });

  it('when fallback is deny and Redis is gone, then calls get 429 with Retry-After at once (never a 5xx), and are admitted again once Redis is back', async () => {
    const proxy = await startTcpProxy(redisTarget);
    cleanups.push(() => proxy.stop());
    const { logger } = capturingLogger();
    const limiter = await limiterBehind(proxy.url('redis', '/0'), logger, { fallback: 'deny' });
    const app = express();
    // The gateway's SOAP router with the limiter in its admit hook, as main.ts wires it (authentication stood in).
    app.use(
      createSoapRouter({ dispatcher: createAdmissionDispatcher(), logger, maxBodyBytes: 1_000_000, xmlLimits: {}, admit: createSoapAdmission({ limiter }) }),
    );
    const server = await new Promise<Server>((resolve) => {
      const s: Server = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/nl/jsp/soaprouter.jsp`;
    const call = async () => {
      const t0 = performance.now();
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'text/xml', SoapAction: 'xtk:session#Write' },
        body: soapEnvelope('xtk:session', 'Write', '<sessiontoken/>'),
      });
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text(), ms: performance.now() - t0 };
    };

    expect((await call()).status).toBe(200);
    await proxy.stop();
    const during = await Promise.all(Array.from({ length: 20 }, () => call()));
    expect(during.map((a) => a.status)).toEqual(Array(20).fill(429));
    expect(during.every((a) => a.retryAfter === '1' && /^Too Many Requests: the rate limiter cannot check/.test(a.body) && a.ms < 500)).toBe(true);

    await proxy.start();
    await waitFor('calls admitted again', async () => (await call()).status === 200, { timeoutMs: 2_000, intervalMs: 50 });
  });

  it('when Redis is unreachable at start-up, then the limiter still starts and decides locally, and joins the shared window once Redis appears', async () => {
    const proxy = await startTcpProxy(redisTarget);
    cleanups.push(() => proxy.stop());
    await proxy.stop();
    const { logger, events } = capturingLogger();
    const t0 = performance.now();
    const limiter = await limiterBehind(proxy.url('redis', '/0'), logger, { connectWaitMs: 300 });
    expect(performance.now() - t0).toBeLessThan(1_500);
    expect(limiter.mode).toBe('local');
    expect(events('ratelimit.mode.local')).toBe(1);
    const r = request();
    const first = await limiter.decide(r);
    expect(first).toMatchObject({ allowed: true, source: 'local', remaining: 49 });

    await proxy.start();
    const startedAt = performance.now();
    await waitFor('the shared window', () => limiter.mode === 'shared', { timeoutMs: 3_000, intervalMs: 10 });
    expect(performance.now() - startedAt).toBeLessThanOrEqual(1_000);
    expect(await limiter.decide(r)).toMatchObject({ allowed: true, source: 'redis' });
  });
});
