import { planDatabase, TABLE_MARKER_PREFIX, type DdlPlan, type ExistingTable } from '@cap/campaign-ddl';
import type { Database, Schema } from '@cap/campaign-schema';
import type { Logger } from '@cap/platform-logger';
import { withTransaction, type Pool, type PoolClient } from '@cap/platform-postgres';

/** Advisory lock taken while schema DDL is planned and applied (the migration runner uses 727_001). */
const DDL_LOCK_KEY = 727_002;

type Queryable = Pick<PoolClient, 'query'>;

/** The tables of the `public` schema: columns with their printed type and nullability, indexes, constraints, ownership. */
export async function introspectDatabase(db: Pool | Queryable): Promise<ExistingTable[]> {
  const tables = await db.query<{ name: string; comment: string | null }>(
    `SELECT c.relname AS name, obj_description(c.oid, 'pg_class') AS comment
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
      ORDER BY c.relname`,
  );
  const columns = await db.query<{ table: string; name: string; type: string; not_null: boolean }>(
    `SELECT c.relname AS table, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY c.relname, a.attnum`,
  );
  const indexes = await db.query<{ table: string; name: string }>(
    `SELECT t.relname AS table, i.relname AS name
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = 'public'
      ORDER BY t.relname, i.relname`,
  );
  const constraints = await db.query<{ table: string; name: string }>(
    `SELECT t.relname AS table, k.conname AS name
       FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = 'public'
      ORDER BY t.relname, k.conname`,
  );
  const byName = new Map<string, ExistingTable>();
  for (const t of tables.rows) {
    const table: ExistingTable = { name: t.name, columns: [], indexes: [], constraints: [] };
    if (t.comment?.startsWith(TABLE_MARKER_PREFIX)) table.managedFor = t.comment.slice(TABLE_MARKER_PREFIX.length);
    byName.set(t.name, table);
  }
  for (const c of columns.rows) byName.get(c.table)?.columns.push({ name: c.name, type: c.type, nullable: !c.not_null });
  for (const i of indexes.rows) byName.get(i.table)?.indexes.push(i.name);
  for (const k of constraints.rows) byName.get(k.table)?.constraints.push(k.name);
  return [...byName.values()];
}

/**
 * Brings one database in line with the compiled schemas: introspects, plans (refusing destructive changes
 * with a DdlError) and applies every statement in ONE transaction under an advisory lock, so replicas that
 * start together apply it once and a failure leaves the database as it was. Idempotent: a second run plans
 * no statements. Returns the plan that was applied.
 */
export async function applySchemaDdl(pool: Pool, schemas: ReadonlyMap<string, Schema>, database: Database, logger?: Logger): Promise<DdlPlan> {
  return withTransaction(pool, (client) => applySchemaDdlIn(client, schemas, database, logger));
}

/**
 * applySchemaDdl inside a transaction the caller holds (schema authoring: the DDL and the stored source commit
 * together, or neither). Takes the same advisory lock, for the rest of that transaction.
 */
export async function applySchemaDdlIn(client: Queryable, schemas: ReadonlyMap<string, Schema>, database: Database, logger?: Logger): Promise<DdlPlan> {
  const log = logger?.child({ module: 'schema-ddl', database });
  // Transaction-scoped: released by COMMIT or ROLLBACK whatever happens.
  await client.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK_KEY]);
  let plan: DdlPlan;
  try {
    plan = planDatabase(schemas, database, await introspectDatabase(client));
  } catch (err) {
    log?.error({ event: 'ddl.refused', err }, 'schema DDL refused');
    throw err;
  }
  for (const statement of plan.statements) {
    log?.debug({ event: 'ddl.statement', table: statement.table, action: statement.action, sql: statement.sql }, statement.description);
    await client.query(statement.sql);
  }
  for (const notice of plan.notices) log?.warn({ event: 'ddl.notice', notice }, notice);
  log?.info({ event: plan.statements.length > 0 ? 'ddl.applied' : 'ddl.up_to_date', statements: plan.statements.length }, plan.summary);
  return plan;
}

/** Takes the schema DDL lock for the rest of the caller's transaction (authoring serialises on it). */
export async function lockSchemaDdl(client: Queryable): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK_KEY]);
}
