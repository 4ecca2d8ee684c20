import type { WriteStep } from '@cap/campaign-write';
import { ErrorCodes } from '@cap/platform-errors';
import { createWriteCommitter, DatabaseWriteError } from '../src/index';
import { useTestPool } from './fixtures/test.pool';

/** One Ingest-like write: a one-row INSERT into the staging-like table. */
const ingest = (email: string): WriteStep[] => [
  { kind: 'exec', schema: 'test:stg', statement: { sql: 'INSERT INTO "stg" ("email", "fields") VALUES ($1, $2::text[])', params: [email, '{email}'] } },
];

describe('group commit of unitary writes against PostgreSQL', () => {
  const db = useTestPool({
    database: 'cap_group_commit',
    applicationName: 'group-commit-test',
    max: 6,
    tables: [
      'CREATE TABLE stg (seq bigserial PRIMARY KEY, email text NOT NULL UNIQUE, fields text[] NOT NULL)',
      'CREATE TABLE other (id int PRIMARY KEY, label text)',
    ],
  });
  beforeEach(async () => {
    await db.pool.query('TRUNCATE stg, other');
  });

  it('when many writes arrive at once, then each is acknowledged with its own count and every row is committed exactly once', async () => {
    const committer = createWriteCommitter(db.pool, { maxBatch: 64, maxConcurrent: 2 });
    const emails = Array.from({ length: 300 }, (_, i) => `r${i}@example.com`);
    const results = await Promise.all(emails.map((e) => committer.commit(ingest(e))));
    expect(results.every((r) => r.inserted === 1 && r.updated === 0 && r.deleted === 0)).toBe(true);
    const { rows } = await db.pool.query<{ email: string; fields: string[] }>('SELECT email, fields FROM stg ORDER BY seq');
    expect(rows.map((r) => r.email).sort()).toEqual([...emails].sort());
    expect(rows.every((r) => r.fields.join() === 'email')).toBe(true);
  });

  it('when one write of a group breaks a constraint, then only that write fails, with the database error, and the others land', async () => {
    await db.pool.query(`INSERT INTO stg (email, fields) VALUES ('taken@example.com', '{email}')`);
    // One transaction at a time, so the writes submitted while the first runs are grouped together.
    const committer = createWriteCommitter(db.pool, { maxBatch: 64, maxConcurrent: 1 });
    const emails = ['first@example.com', ...Array.from({ length: 20 }, (_, i) => `ok${i}@example.com`)];
    const pending = emails.map((e) => committer.commit(ingest(e)));
    const bad = committer.commit(ingest('taken@example.com'));
    pending.push(...Array.from({ length: 5 }, (_, i) => committer.commit(ingest(`late${i}@example.com`))));
    await expect(bad).rejects.toBeInstanceOf(DatabaseWriteError);
    // The caller reads the kind of refusal; PostgreSQL's own text (constraint name, row) stays for the log.
    await expect(bad).rejects.toThrow(/^PGS-220000 The database refused the write: a record with the same key already exists$/);
    await expect(bad).rejects.toMatchObject({ sqlState: '23505', privateDetail: expect.stringMatching(/duplicate key/) });
    await Promise.all(pending);
    const { rows } = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM stg');
    expect(Number(rows[0]!.n)).toBe(1 + emails.length + 5);
  });

  it('when the connection is lost during a group, then its writes fail as lone writes would and none is replayed (a COMMIT may have happened)', async () => {
    const committer = createWriteCommitter(db.pool, { maxBatch: 64, maxConcurrent: 1 });
    const blocker = committer.commit(ingest('before@example.com'));
    const killer: WriteStep[] = [{ kind: 'exec', schema: 'test:stg', statement: { sql: 'SELECT pg_terminate_backend(pg_backend_pid())', params: [] } }];
    const group = [committer.commit(ingest('g1@example.com')), committer.commit(killer), committer.commit(ingest('g2@example.com'))];
    await blocker;
    const outcomes = await Promise.allSettled(group);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    const { rows } = await db.pool.query<{ email: string }>('SELECT email FROM stg ORDER BY seq');
    expect(rows.map((r) => r.email)).toEqual(['before@example.com']);
  });

  it("when a queued write's caller has stopped waiting by its turn, then it is not applied, and the others are", async () => {
    const committer = createWriteCommitter(db.pool, { maxBatch: 64, maxConcurrent: 1 });
    const slow: WriteStep[] = [{ kind: 'exec', schema: 'test:stg', statement: { sql: 'SELECT pg_sleep(0.4)', params: [] } }];
    const blocker = committer.commit(slow);
    const expired = committer.commit(ingest('expired@example.com'), Date.now() + 50);
    const waiting = committer.commit(ingest('waiting@example.com'), Date.now() + 30_000);
    const unbounded = committer.commit(ingest('unbounded@example.com'));
    await blocker;
    await expect(expired).rejects.toMatchObject({ code: ErrorCodes.RPC_TIMEOUT, retriable: true });
    await expect(waiting).resolves.toMatchObject({ inserted: 1 });
    await expect(unbounded).resolves.toMatchObject({ inserted: 1 });
    const { rows } = await db.pool.query<{ email: string }>('SELECT email FROM stg ORDER BY email');
    expect(rows.map((r) => r.email)).toEqual(['unbounded@example.com', 'waiting@example.com']);
  });

  it('when writes of different shapes share a group, then each keeps its own steps and its own outcome', async () => {
    const committer = createWriteCommitter(db.pool, { maxBatch: 64, maxConcurrent: 1 });
    const upsertOther = (id: number, label: string): WriteStep[] => [
      {
        kind: 'updateElseInsert',
        schema: 'test:other',
        update: { sql: 'UPDATE "other" SET "label" = $2 WHERE "id" = $1', params: [id, label] },
        insert: { sql: 'INSERT INTO "other" ("id", "label") VALUES ($1, $2)', params: [id, label] },
      },
    ];
    const blocker = committer.commit(ingest('a@example.com'));
    const mixed = await Promise.all([
      committer.commit(upsertOther(1, 'one')),
      committer.commit(ingest('b@example.com')),
      committer.commit(upsertOther(1, 'uno')),
      committer.commit(ingest('c@example.com')),
    ]);
    await blocker;
    expect(mixed.map((m) => [m.inserted, m.updated])).toEqual([
      [1, 0],
      [1, 0],
      [0, 1],
      [1, 0],
    ]);
    expect((await db.pool.query('SELECT label FROM other WHERE id = 1')).rows[0].label).toBe('uno');
    expect(Number((await db.pool.query('SELECT count(*) AS n FROM stg')).rows[0].n)).toBe(3);
  });
});
