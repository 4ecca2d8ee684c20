import { dropDatabase, ensureDatabase } from '@cap/platform-postgres';
import { testEndpoints } from './test.endpoints';
import { uniqueId } from './test.ids';

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database of its own on the real PostgreSQL server. */
export async function createTestDatabase(prefix = 'cap_test'): Promise<TestDatabase> {
  const name = uniqueId(prefix).replace(/[^a-z0-9_]/g, '_');
  const url = new URL(testEndpoints().postgresAdminUrl);
  url.pathname = `/${name}`;
  await ensureDatabase(url.toString());
  return { name, url: url.toString(), drop: () => dropDatabase(url.toString()) };
}
