import pg from 'pg';
import { testEndpoints } from './test.endpoints';
import { uniqueId } from './test.ids';

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

// Plain `pg` here (not @cap/platform-postgres) so that library's own tests can use these helpers.
/** Runs `fn` on a client of its own connected to `url`, closed afterwards whatever happens. */
export async function withDb<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function onServer(statement: string): Promise<void> {
  await withDb(testEndpoints().postgresAdminUrl, (client) => client.query(statement));
}

/** A fresh, empty database of its own on the real PostgreSQL server. */
export async function createTestDatabase(prefix = 'cap_test'): Promise<TestDatabase> {
  const name = uniqueId(prefix).replace(/[^a-z0-9_]/g, '_');
  const url = new URL(testEndpoints().postgresAdminUrl);
  url.pathname = `/${name}`;
  await onServer(`CREATE DATABASE "${name}"`);
  return { name, url: url.toString(), drop: () => onServer(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}
