import type { Logger } from '@cap/platform-logger';
import { loadMigrations, migrate } from './migration.runner';
import { createPool, ensureDatabase, type Pool } from './pg.pool';

export interface OpenDatabaseOptions {
  /** Label in logs and errors ("local", "cloud"). */
  database: string;
  url: string;
  poolMax: number;
  applicationName: string;
  logger: Logger;
  /** Create the database when missing and apply the migrations in this folder. */
  migrationsDir?: string;
}

/** Opens a service's database: creates and migrates it first when asked (development, tests, first start). */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Pool> {
  if (options.migrationsDir) {
    if (await ensureDatabase(options.url)) {
      options.logger.info({ event: 'db.created', database: options.database }, 'database created');
    }
  }
  const pool = createPool({ url: options.url, max: options.poolMax, applicationName: options.applicationName, logger: options.logger });
  if (options.migrationsDir) {
    try {
      await migrate(pool, { database: options.database, migrations: await loadMigrations(options.migrationsDir), logger: options.logger });
    } catch (err) {
      await pool.end();
      throw err;
    }
  }
  return pool;
}

/** One timed round trip; `sleepMs` makes the statement itself take that long (diagnostics, drain tests). */
export async function pingDatabase(pool: Pool, sleepMs = 0): Promise<{ serverTime: string; roundTripMs: number }> {
  const started = performance.now();
  const { rows } = await pool.query<{ now: Date }>('SELECT pg_sleep($1::float8 / 1000), now() AS now', [sleepMs]);
  return { serverTime: rows[0]!.now.toISOString(), roundTripMs: Math.round((performance.now() - started) * 100) / 100 };
}
