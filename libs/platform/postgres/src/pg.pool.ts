import pg from 'pg';
import type { Logger } from '@cap/platform-logger';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export interface PoolOptions {
  url: string;
  max: number;
  applicationName: string;
  logger: Logger;
  /** Bound on a single statement, so a stuck query cannot hold a request forever. */
  statementTimeoutMs?: number;
  connectionTimeoutMs?: number;
}

// int8 (bigint) → string: 64-bit ids must not lose precision in JavaScript numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

export function createPool(options: PoolOptions): Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max,
    application_name: options.applicationName,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 3_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
  });
  // An idle client losing its connection must not crash the process; the next checkout reconnects.
  pool.on('error', (err) => options.logger.warn({ event: 'pg.pool.idle_error', err }, 'idle PostgreSQL client error'));
  // A client checked out of the pool has no pool listener: if its connection drops mid-query (database
  // restarted, network cut) pg emits 'error' on it, which would crash the process. The query in flight
  // rejects anyway; this only keeps the event from being unhandled.
  pool.on('connect', (client) => {
    client.on('error', (err) => options.logger.warn({ event: 'pg.client.error', err: { message: err.message } }, 'PostgreSQL connection lost'));
  });
  return pool;
}

export interface TransactionOptions {
  /** `BEGIN READ ONLY`: the transaction refuses writes. */
  readOnly?: boolean;
  /** The isolation level (PostgreSQL's default, read committed, when absent). */
  isolation?: 'read committed' | 'repeatable read' | 'serializable';
}

function beginStatement(options: TransactionOptions): string {
  return ['BEGIN', options.isolation ? `ISOLATION LEVEL ${options.isolation.toUpperCase()}` : '', options.readOnly ? 'READ ONLY' : '']
    .filter(Boolean)
    .join(' ');
}

/** The transaction on `client`; returns the ROLLBACK's own failure (the connection is then unusable) beside fn's. */
async function transact<T>(
  client: PoolClient,
  fn: (client: PoolClient) => Promise<T>,
  options: TransactionOptions,
  onBroken: (err: Error) => void,
): Promise<T> {
  try {
    await client.query(beginStatement(options));
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackErr: unknown) => onBroken(rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr))));
    throw err;
  }
}

/**
 * Runs `fn` in one transaction on a connection of the pool: committed if it resolves, rolled back if it throws
 * (and fn's error rethrown). A connection whose ROLLBACK fails too is destroyed, not given back to the pool.
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    return await transact(client, fn, options, (err) => (broken = err));
  } finally {
    client.release(broken);
  }
}

/** `withTransaction` on a connection the caller holds (and releases), e.g. one holding a session advisory lock. */
export function inTransaction<T>(client: PoolClient, fn: (client: PoolClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  return transact(client, fn, options, () => undefined);
}

/** Readiness probe: one round trip to the server. */
export async function checkPool(pool: Pool): Promise<void> {
  await pool.query('SELECT 1');
}

/**
 * A connection to the server's `postgres` database, to create or drop the database named in `url`. Its
 * 'error' events are swallowed: a connection lost mid-statement rejects that statement (the caller's error),
 * and must not also be an uncaught exception.
 */
function adminClientFor(url: string, connectionTimeoutMs?: number): { name: string; client: pg.Client } {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`Database name '${name}' must be letters, digits or underscores`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: connectionTimeoutMs });
  client.on('error', () => undefined);
  return { name, client };
}

/** Creates the database named in `url` when it does not exist (connecting to the server's `postgres` DB). */
export async function ensureDatabase(url: string): Promise<boolean> {
  const { name, client } = adminClientFor(url, 5_000);
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    try {
      await client.query(`CREATE DATABASE "${name}"`);
    } catch (err) {
      // Two processes racing to create the same database: the loser sees duplicate_database (42P04).
      if ((err as { code?: string }).code !== '42P04' && (err as { code?: string }).code !== '23505') throw err;
      return false;
    }
    return true;
  } finally {
    await client.end();
  }
}
