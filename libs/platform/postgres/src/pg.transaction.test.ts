import type { Pool, PoolClient } from './pg.pool';
import { inTransaction, withTransaction } from './pg.pool';

/** A pool of one fake connection recording its statements and how it was released. */
function fakePool(options: { failOn?: string[] } = {}) {
  const statements: string[] = [];
  const released: (Error | boolean | undefined)[] = [];
  const client = {
    query: async (text: string) => {
      statements.push(text);
      if (options.failOn?.includes(text)) throw new Error(`${text} failed`);
      return { rows: [], rowCount: 0 };
    },
    release: (err?: Error | boolean) => void released.push(err),
  } as unknown as PoolClient;
  const pool = { connect: async () => client } as unknown as Pool;
  return { pool, client, statements, released };
}

describe('withTransaction', () => {
  it('when fn resolves, then its statements run between BEGIN and COMMIT, its result is returned and the connection goes back to the pool', async () => {
    const { pool, statements, released } = fakePool();
    expect(await withTransaction(pool, async (c) => (await c.query('SELECT 1'), 42))).toBe(42);
    expect(statements).toEqual(['BEGIN', 'SELECT 1', 'COMMIT']);
    expect(released).toEqual([undefined]);
  });

  it('when fn throws, then the transaction is rolled back and fn’s error is rethrown', async () => {
    const { pool, statements, released } = fakePool();
    await expect(withTransaction(pool, async () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    expect(statements).toEqual(['BEGIN', 'ROLLBACK']);
    expect(released).toEqual([undefined]);
  });

  it('when COMMIT fails, then the transaction is rolled back and the COMMIT error is rethrown', async () => {
    const { pool, statements } = fakePool({ failOn: ['COMMIT'] });
    await expect(withTransaction(pool, async () => 1)).rejects.toThrow('COMMIT failed');
    expect(statements).toEqual(['BEGIN', 'COMMIT', 'ROLLBACK']);
  });

  it('when the ROLLBACK fails too, then fn’s error is rethrown and the connection is destroyed, not reused', async () => {
    const { pool, released } = fakePool({ failOn: ['ROLLBACK'] });
    await expect(withTransaction(pool, async () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    expect(released).toHaveLength(1);
    expect(released[0]).toBeInstanceOf(Error);
    expect((released[0] as Error).message).toBe('ROLLBACK failed');
  });

  it('when asked for read-only or an isolation level, then BEGIN says so', async () => {
    const { pool, statements } = fakePool();
    await withTransaction(pool, async () => undefined, { readOnly: true });
    await withTransaction(pool, async () => undefined, { isolation: 'serializable' });
    await withTransaction(pool, async () => undefined, { isolation: 'repeatable read', readOnly: true });
    expect(statements.filter((s) => s.startsWith('BEGIN'))).toEqual([
      'BEGIN READ ONLY',
      'BEGIN ISOLATION LEVEL SERIALIZABLE',
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    ]);
  });
});

describe('inTransaction', () => {
  it('when run on a held connection, then it commits or rolls back there and leaves the connection to its holder', async () => {
    const { client, statements, released } = fakePool({ failOn: ['ROLLBACK'] });
    await inTransaction(client, async (c) => void (await c.query('INSERT 1')));
    await expect(inTransaction(client, async () => Promise.reject(new Error('bad migration')))).rejects.toThrow('bad migration');
    expect(statements).toEqual(['BEGIN', 'INSERT 1', 'COMMIT', 'BEGIN', 'ROLLBACK']);
    expect(released).toEqual([]);
  });
});
