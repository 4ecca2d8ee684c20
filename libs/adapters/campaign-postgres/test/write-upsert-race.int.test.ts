import type { WriteStep } from '@cap/campaign-write';
import { DatabaseWriteError, executeWriteSteps } from '../src/index';
import { useTestPool } from './fixtures/test.pool';

/** insertOrUpdate of one service by its name, as the write planner compiles it. */
const upsert = (name: string, label: string): WriteStep[] => [
  {
    kind: 'updateElseInsert',
    schema: 'test:service',
    update: { sql: 'UPDATE "service" SET "label" = $1 WHERE "name" = $2', params: [label, name] },
    insert: { sql: 'INSERT INTO "service" ("name", "label") VALUES ($1, $2)', params: [name, label] },
  },
];

/**
 * Two transactions upsert the same new key at the same moment (read committed): both find no row to update,
 * both insert. The second must wait for the first and then update its row, not fail on the unique key; only a
 * conflict on another unique key is an error, in Campaign's form without PostgreSQL's text.
 */
describe('insertOrUpdate racing on one key against PostgreSQL', () => {
  const db = useTestPool({
    database: 'cap_upsert_race',
    applicationName: 'upsert-race-test',
    max: 4,
    tables: ['CREATE TABLE service (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, label text, code text UNIQUE)'],
  });

  it('when two transactions insert the same new key, then the second updates the row the first committed', async () => {
    const a = await db.pool.connect();
    const b = await db.pool.connect();
    try {
      await a.query('BEGIN');
      await b.query('BEGIN');
      expect(await executeWriteSteps(a, upsert('news', 'from A'))).toEqual({ inserted: 1, updated: 0, deleted: 0 });
      // B's insert waits on A's uncommitted row …
      const second = executeWriteSteps(b, upsert('news', 'from B'));
      await new Promise((r) => setTimeout(r, 200));
      await a.query('COMMIT');
      // … and, once A has committed, becomes an update of that row.
      await expect(second).resolves.toEqual({ inserted: 0, updated: 1, deleted: 0 });
      await b.query('COMMIT');
    } finally {
      a.release();
      b.release();
    }
    expect((await db.pool.query('SELECT name, label FROM service WHERE name = $1', ['news'])).rows).toEqual([{ name: 'news', label: 'from B' }]);
  });

  it('when the insert conflicts on another unique key, then the write fails as a Campaign refusal without PostgreSQL text', async () => {
    await db.pool.query(`INSERT INTO service (name, code) VALUES ('taken', 'C1')`);
    const client = await db.pool.connect();
    try {
      const steps: WriteStep[] = [
        { ...upsert('fresh', 'x')[0]!, insert: { sql: 'INSERT INTO "service" ("name", "code") VALUES ($1, $2)', params: ['fresh', 'C1'] } } as WriteStep,
      ];
      const err = await executeWriteSteps(client, steps).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DatabaseWriteError);
      expect((err as Error).message).toBe('PGS-220000 The database refused the write: a record with the same key already exists');
    } finally {
      client.release();
    }
  });
});
