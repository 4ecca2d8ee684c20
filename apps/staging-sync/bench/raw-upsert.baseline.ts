import { randomUUID } from 'node:crypto';
import pg from 'pg';

/** What PostgreSQL itself does with the rows of P3, measured in the same run as the workers. */
export interface RawUpsertBaseline {
  rows: number;
  batch: number;
  /** New keys: rows/s of the upsert inserting them. */
  insertRowsPerSec: number;
  /** The same keys again with a higher sequence: rows/s of the upsert updating them. */
  updateRowsPerSec: number;
}

/**
 * P3's physical baseline: `rows` rows shaped like the bench's staged changes (a uuid key, four texts and
 * timestamps, a bigint sequence) upserted into `databaseUrl` from ONE node-postgres connection, `batch` rows per
 * statement, `INSERT … SELECT FROM unnest(…) ON CONFLICT (id) DO UPDATE … WHERE seq <= excluded.seq` (last writer
 * wins by sequence, as the applier), each batch its own transaction. First every key is new (inserts), then
 * every key again with a higher sequence (updates). The table is created for the measure and dropped after it.
 * A staging-sync worker's rows/s divided by `insertRowsPerSec` is P3's ratio: the share of what this machine's
 * PostgreSQL can take that the worker turns into applied rows, whatever the machine.
 */
export async function measureRawUpsert(databaseUrl: string, rows: number, batch = 2_000): Promise<RawUpsertBaseline> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const table = 'bench_raw_upsert';
  try {
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.query(
      `CREATE TABLE ${table} (id uuid PRIMARY KEY, email text, first_name text, last_name text, created timestamptz, last_modified timestamptz, seq bigint NOT NULL)`,
    );
    const ids = Array.from({ length: rows }, () => randomUUID());
    const now = new Date().toISOString();
    const upsert = `INSERT INTO ${table} (id, email, first_name, last_name, created, last_modified, seq)
      SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::bigint[])
      ON CONFLICT (id) DO UPDATE SET email = excluded.email, first_name = excluded.first_name, last_name = excluded.last_name,
        created = excluded.created, last_modified = excluded.last_modified, seq = excluded.seq
      WHERE ${table}.seq <= excluded.seq`;
    const pass = async (seqBase: number): Promise<number> => {
      const t0 = performance.now();
      for (let from = 0; from < rows; from += batch) {
        const slice = ids.slice(from, from + batch);
        const n = slice.map((_, i) => from + i);
        await client.query(upsert, [
          slice,
          n.map((i) => `bench${i}@example.com`),
          n.map(() => 'Bench'),
          n.map((i) => `Row ${i}`),
          n.map(() => now),
          n.map(() => now),
          n.map((i) => String(seqBase + i + 1)),
        ]);
      }
      return rows / ((performance.now() - t0) / 1000);
    };
    const insertRowsPerSec = await pass(0);
    const updateRowsPerSec = await pass(rows);
    return { rows, batch, insertRowsPerSec, updateRowsPerSec };
  } finally {
    await client.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await client.end();
  }
}
