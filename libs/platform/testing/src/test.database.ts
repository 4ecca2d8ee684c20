import pg from 'pg';
import { testEndpoints } from './test.endpoints';
import { uniqueId } from './test.ids';

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

// Plain `pg` here (not @cap/platform-postgres) so that library's own tests can use these helpers.
async function onServer(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: testEndpoints().postgresAdminUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** A fresh, empty database of its own on the real PostgreSQL server. */
export async function createTestDatabase(prefix = 'cap_test'): Promise<TestDatabase> {
  const name = uniqueId(prefix).replace(/[^a-z0-9_]/g, '_');
  const url = new URL(testEndpoints().postgresAdminUrl);
  url.pathname = `/${name}`;
  await onServer(`CREATE DATABASE "${name}"`);
  return { name, url: url.toString(), drop: () => onServer(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}
