import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import pg from 'pg';
import { TOPICS } from '@cap/contracts';
import { createLogger } from '@cap/platform-logger';
import { createMessaging, startRpcClient } from '@cap/platform-kafka';

/** Closed-loop throughput of one operation at a concurrency, with its latency percentiles. */
export interface LoopFigures {
  connections: number;
  seconds: number;
  callsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** `connections` loops each running `op` back to back for `seconds` (after `warmupSeconds` not counted). */
async function closedLoop(op: () => Promise<unknown>, connections: number, seconds: number, warmupSeconds = 2): Promise<LoopFigures> {
  const latencies: number[] = [];
  let errors = 0;
  let counting = false;
  const end = performance.now() + (warmupSeconds + seconds) * 1000;
  setTimeout(() => (counting = true), warmupSeconds * 1000).unref();
  let t0 = 0;
  const loop = async () => {
    while (performance.now() < end) {
      const start = performance.now();
      try {
        await op();
        if (counting) latencies.push(performance.now() - start);
      } catch {
        if (counting) errors++;
      }
    }
  };
  setTimeout(() => (t0 = performance.now()), warmupSeconds * 1000).unref();
  await Promise.all(Array.from({ length: connections }, loop));
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)] ?? NaN) * 10) / 10;
  return { connections, seconds: elapsed, callsPerSec: latencies.length / elapsed, p50Ms: pct(0.5), p99Ms: pct(0.99), errors };
}

/**
 * P2's Kafka baseline: a bare request/reply echo through the platform's RPC client and server (the same request
 * topic shape as local-store's, the shared reply topic), the server in its own process as local-store is, the
 * client in this one, `connections` calls in flight. What two Kafka hops cost on this machine with no work.
 */
export async function measureRpcEcho(options: { brokers: string[]; prefix: string; connections: number; seconds: number }): Promise<LoopFigures> {
  const server = spawn(
    process.execPath,
    ['--import', 'tsx', join(__dirname, 'rpc-echo.server.ts'), JSON.stringify({ brokers: options.brokers, prefix: options.prefix })],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const messaging = createMessaging({
    brokers: options.brokers,
    clientId: `${options.prefix}echo-client`,
    topicPrefix: options.prefix,
    logger: createLogger({ service: 'bench', level: 'warn' }),
  });
  try {
    let out = '';
    server.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    const deadline = Date.now() + 60_000;
    while (!out.includes('ready')) {
      if (server.exitCode !== null || Date.now() > deadline) throw new Error('the RPC echo server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const client = await startRpcClient(messaging, { instanceId: `${options.prefix}echo-client`, defaultTimeoutMs: 10_000 });
    const target = { service: 'rpc-echo', topic: TOPICS.localStoreRequests };
    // An Ingest's request is about this size once the gateway has parsed it.
    const params = { schema: 'nms:recipientStg', record: { email: 'load@example.com', firstName: 'Load', lastName: 'Test' } };
    try {
      return await closedLoop(() => client.request(target, 'echo', params), options.connections, options.seconds);
    } finally {
      await client.stop();
    }
  } finally {
    await messaging.close();
    if (server.exitCode === null) {
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
  }
}

/**
 * P2's PostgreSQL baseline: one insert transaction per call (BEGIN, one-row INSERT, COMMIT) into `databaseUrl`,
 * `connections` callers sharing a pool of `poolSize` connections (local-store's default), no group commit. What
 * the local database gives unitary writes on this machine with nothing in front of it.
 */
export async function measurePgInsertTransactions(options: {
  databaseUrl: string;
  connections: number;
  seconds: number;
  poolSize: number;
}): Promise<LoopFigures> {
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize });
  const table = 'bench_p2_insert';
  try {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.query(`CREATE TABLE ${table} (id bigserial PRIMARY KEY, email text, first_name text, last_name text, created timestamptz DEFAULT now())`);
    return await closedLoop(
      async () => {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          await client.query(`INSERT INTO ${table} (email, first_name, last_name) VALUES ($1, $2, $3)`, ['load@example.com', 'Load', 'Test']);
          await client.query('COMMIT');
        } finally {
          client.release();
        }
      },
      options.connections,
      options.seconds,
    );
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await pool.end();
  }
}
