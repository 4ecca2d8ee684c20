import { Writable } from 'node:stream';
import { ErrorCodes } from '@cap/platform-errors';
import { createLogger } from '@cap/platform-logger';
import { createTestDatabase, type TestDatabase } from '@cap/platform-testing';
import { createPool, migrate, withTransaction, type Migration, type Pool } from '../src/index';

const logger = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

const v1: Migration[] = [
  { name: '0001_items.sql', sql: 'CREATE TABLE items (id bigserial PRIMARY KEY, label text NOT NULL);' },
  { name: '0002_items_note.sql', sql: 'ALTER TABLE items ADD COLUMN note text;' },
];

describe('migrations against real PostgreSQL', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeEach(async () => {
    db = await createTestDatabase('cap_mig');
    pool = createPool({ url: db.url, max: 4, applicationName: 'test', logger });
  });

  afterEach(async () => {
    await pool.end();
    await db.drop();
  });

  it('when migrating twice, then each migration is applied once and the schema is in place', async () => {
    expect(await migrate(pool, { database: 'test', migrations: v1, logger })).toEqual(['0001_items.sql', '0002_items_note.sql']);
    expect(await migrate(pool, { database: 'test', migrations: v1, logger })).toEqual([]);
    await pool.query("INSERT INTO items (label, note) VALUES ('a', 'b')");
    const { rows } = await pool.query('SELECT name FROM cap_schema_migrations ORDER BY name');
    expect(rows.map((r: { name: string }) => r.name)).toEqual(['0001_items.sql', '0002_items_note.sql']);
  });

  it('when two replicas migrate at the same time, then the advisory lock lets exactly one apply each migration', async () => {
    const other = createPool({ url: db.url, max: 2, applicationName: 'test-2', logger });
    try {
      const [a, b] = await Promise.all([
        migrate(pool, { database: 'test', migrations: v1, logger }),
        migrate(other, { database: 'test', migrations: v1, logger }),
      ]);
      expect([...a, ...b].sort()).toEqual(['0001_items.sql', '0002_items_note.sql']);
    } finally {
      await other.end();
    }
  });

  it('when an applied migration was edited, then migrating refuses with a clear error', async () => {
    await migrate(pool, { database: 'test', migrations: v1, logger });
    const edited = [{ ...v1[0]!, sql: v1[0]!.sql.replace('label', 'title') }, v1[1]!];
    await expect(migrate(pool, { database: 'test', migrations: edited, logger })).rejects.toMatchObject({
      code: ErrorCodes.MIGRATION_FAILED,
      message: expect.stringContaining('0001_items.sql'),
    });
  });

  it('when a migration fails, then nothing of it is left behind and later ones are not applied', async () => {
    const broken: Migration[] = [
      v1[0]!,
      { name: '0002_broken.sql', sql: 'CREATE TABLE half_done (id int); SELECT no_such_function();' },
      { name: '0003_after.sql', sql: 'CREATE TABLE after_broken (id int);' },
    ];
    await expect(migrate(pool, { database: 'test', migrations: broken, logger })).rejects.toMatchObject({ code: ErrorCodes.MIGRATION_FAILED });
    const { rows } = await pool.query("SELECT to_regclass('half_done') AS half, to_regclass('after_broken') AS after, to_regclass('items') AS items");
    expect(rows[0]).toEqual({ half: null, after: null, items: 'items' });
  });

  it('when a transaction body throws, then its writes are rolled back', async () => {
    await migrate(pool, { database: 'test', migrations: v1, logger });
    await expect(
      withTransaction(pool, async (client) => {
        await client.query("INSERT INTO items (label) VALUES ('x')");
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect((await pool.query('SELECT count(*)::int AS n FROM items')).rows[0]).toEqual({ n: 0 });
  });
});
