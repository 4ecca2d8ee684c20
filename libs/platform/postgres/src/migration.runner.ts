import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errors } from '@cap/platform-errors';
import type { Logger } from '@cap/platform-logger';
import { inTransaction, type Pool } from './pg.pool';

export interface Migration {
  name: string;
  sql: string;
}

export interface MigrateOptions {
  /** Label used in logs and errors, e.g. "local" or "cloud". */
  database: string;
  migrations: Migration[];
  logger: Logger;
}

const LOCK_KEY = 727_001; // advisory lock shared by every migrating process on one database

/**
 * Loads `NNNN_name.sql` files from a folder (not its subfolders), in name order. `namePrefix` goes before each
 * file's name where it is recorded (cap_schema_migrations): a second folder applied to the same database at
 * another moment (e.g. `after-schema/`) cannot take the name of a file of the first.
 */
export async function loadMigrations(dir: string, namePrefix = ''): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(files.map(async (name) => ({ name: `${namePrefix}${name}`, sql: await readFile(join(dir, name), 'utf8') })));
}

/**
 * Applies pending migrations, each in its own transaction, under an advisory lock so that replicas
 * starting together migrate once. An applied migration whose text changed is refused: migrations are
 * append-only.
 */
export async function migrate(pool: Pool, options: MigrateOptions): Promise<string[]> {
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS cap_schema_migrations (
      name text PRIMARY KEY,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Map(
      (await client.query<{ name: string; checksum: string }>('SELECT name, checksum FROM cap_schema_migrations')).rows.map((r) => [r.name, r.checksum]),
    );
    for (const migration of options.migrations) {
      const checksum = createHash('sha256').update(migration.sql).digest('hex');
      const previous = done.get(migration.name);
      if (previous !== undefined) {
        if (previous !== checksum) {
          throw errors.migrationFailed(
            options.database,
            migration.name,
            'already applied with different content; add a new migration instead of editing this one',
          );
        }
        continue;
      }
      try {
        await inTransaction(client, async (tx) => {
          await tx.query(migration.sql);
          await tx.query('INSERT INTO cap_schema_migrations (name, checksum) VALUES ($1, $2)', [migration.name, checksum]);
        });
      } catch (err) {
        throw errors.migrationFailed(options.database, migration.name, err instanceof Error ? err.message : String(err));
      }
      applied.push(migration.name);
      options.logger.info({ event: 'db.migration.applied', database: options.database, migration: migration.name }, 'migration applied');
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    client.release();
  }
}
