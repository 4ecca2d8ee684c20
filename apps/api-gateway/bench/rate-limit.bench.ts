/**
 * Rate limiter decision latency against the real Redis (npx tsx apps/api-gateway/bench/rate-limit.bench.ts).
 *
 * Baseline measured in the same run: a bare PING round trip on the same kind of connection, so the figures
 * read as "cost of a decision over one Redis round trip". Each scenario runs RUNS times; medians are reported.
 * Scenarios:
 *  - ping:            redis.ping(), one in flight (baseline)
 *  - shared, spread:  decide() for 1,000 operators round-robin, limit 100/s (mostly admitted), one in flight
 *  - shared, hot key: decide() for one caller far over its limit (mostly denied: ZREMRANGEBYSCORE+ZCARD+ZRANGE)
 *  - shared, 16 in flight: throughput with concurrent decisions (what a busy gateway does)
 *  - local fallback:  decide() while Redis is unreachable (per-process window)
 */
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { createLogger } from '@cap/platform-logger';
import { createRedis } from '@cap/platform-redis';
import { freePort, testEndpoints, uniqueId } from '@cap/platform-testing';
import { createRateLimiter, parseRateLimitConfig, type RateLimiter, type RateLimitRequest } from '../src/rate-limit';

const RUNS = 5;
const N = 5_000;
const quiet = createLogger({ service: 'bench', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const config = parseRateLimitConfig({ windowMs: 1000, default: { limit: 100 } });

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface RunStats {
  p50: number;
  p99: number;
  perSecond: number;
}

async function measure(op: (i: number) => Promise<unknown>, concurrency = 1): Promise<RunStats> {
  for (let i = 0; i < 500; i++) await op(i); // warm-up
  const times: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < N) {
        const i = next++;
        const t0 = performance.now();
        await op(i);
        times.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = performance.now() - started;
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), perSecond: (N / elapsed) * 1000 };
}

async function scenario(name: string, run: () => Promise<RunStats>): Promise<{ name: string } & RunStats> {
  const runs: RunStats[] = [];
  for (let r = 0; r < RUNS; r++) runs.push(await run());
  return { name, p50: median(runs.map((x) => x.p50)), p99: median(runs.map((x) => x.p99)), perSecond: median(runs.map((x) => x.perSecond)) };
}

async function main(): Promise<void> {
  const redis = await createRedis({ url: testEndpoints().redisUrl, logger: quiet });
  const ping = redis.duplicate();
  await ping.connect();
  const limiter: RateLimiter = await createRateLimiter({ redis, logger: quiet, registry: new Registry(), config, keyPrefix: `${uniqueId('rl_bench')}:` });
  if (limiter.mode !== 'shared') throw new Error('the limiter did not reach Redis');
  const spread = Array.from({ length: 1_000 }, (_, i): RateLimitRequest => ({
    api: 'xtk:queryDef#ExecuteQuery',
    caller: { kind: 'operator', id: `op${i}` },
    internal: false,
  }));
  const hot: RateLimitRequest = { api: 'xtk:session#Logon', caller: { kind: 'ip', id: '10.0.0.1' }, internal: false };

  // A limiter whose Redis is a closed port: every decision takes the local fallback.
  const deadRedis = await createRedis({ url: `redis://127.0.0.1:${await freePort()}/0`, logger: quiet, connectTimeoutMs: 200 });
  const fallback = await createRateLimiter({ redis: deadRedis, logger: quiet, registry: new Registry(), config, connectWaitMs: 100 });
  if (fallback.mode !== 'local') throw new Error('the fallback limiter should be local');

  const results = [
    await scenario('PING round trip (baseline)', () => measure(() => ping.ping())),
    await scenario('decide, shared, 1,000 callers (mostly admitted)', () => measure((i) => limiter.decide(spread[i % spread.length]!))),
    await scenario('decide, shared, one hot key (mostly denied)', () => measure(() => limiter.decide(hot))),
    await scenario('PING, 16 in flight (baseline)', () => measure(() => ping.ping(), 16)),
    await scenario('decide, shared, 16 in flight', () => measure((i) => limiter.decide(spread[i % spread.length]!), 16)),
    await scenario('decide, local fallback (Redis unreachable)', () => measure((i) => fallback.decide(spread[i % spread.length]!))),
  ];
  const base = results[0]!.p50;
  const lines = [
    `Rate limiter decision latency, ${N} decisions per run, median of ${RUNS} runs (Node ${process.version}, Redis on 127.0.0.1)`,
    '',
    '| scenario | p50 (ms) | p99 (ms) | ops/s | p50 vs PING |',
    '|---|---:|---:|---:|---:|',
    ...results.map(
      (r) => `| ${r.name} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${Math.round(r.perSecond).toLocaleString('en-US')} | ${(r.p50 / base).toFixed(2)}× |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  await Promise.all([limiter.close(), fallback.close()]);
  await Promise.all([ping.close(), redis.close()]);
  deadRedis.destroy();
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
