import { join } from 'node:path';
import { DdlError } from '@cap/campaign-ddl';
import { readSchemaSources, SOURCE_BUILTIN_SCHEMA_DIR } from '@cap/campaign-files';
import { compileSchemas, type Schema, type SchemaSource } from '@cap/campaign-schema';
import { createLogger } from '@cap/platform-logger';
import { createPool, loadMigrations, migrate, type Pool } from '@cap/platform-postgres';
import { createTestDatabase, type TestDatabase } from '@cap/platform-testing';
import { applySchemaDdl, introspectDatabase } from '../src/index';

const logger = createLogger({ service: 'ddl-apply-test', level: 'silent' });
const ROOT = join(__dirname, '..', '..', '..', '..');
const builtinSources = (): SchemaSource[] => readSchemaSources([SOURCE_BUILTIN_SCHEMA_DIR]);
const builtins = compileSchemas(builtinSources());
const UUID = '0b9d6a3e-6a7c-4d1e-9f51-3c2f1a8e7b10';

/** Built-ins with nms-recipient.xml edited as a customer would edit their own copy. */
function withRecipientEdited(edit: (text: string) => string, ...extra: SchemaSource[]): Map<string, Schema> {
  const sources = builtinSources().map((s) => (s.file === 'nms-recipient.xml' ? { ...s, text: edit(s.text) } : s));
  const edited = sources.find((s) => s.file === 'nms-recipient.xml')!;
  if (edited.text === builtinSources().find((s) => s.file === 'nms-recipient.xml')!.text) throw new Error('the edit changed nothing');
  return compileSchemas([...sources, ...extra]);
}

const loyaltyExtension: SchemaSource = {
  file: 'cus-recipient.xml',
  text: `<srcSchema namespace="cus" name="recipient" extendedSchema="nms:recipient">
    <element name="recipient"><attribute name="loyaltyTier" type="string" length="16" label="Loyalty tier"/></element>
  </srcSchema>`,
};

describe('applySchemaDdl against PostgreSQL', () => {
  const databases: TestDatabase[] = [];
  const pools: Pool[] = [];

  async function freshDatabase(): Promise<Pool> {
    const db = await createTestDatabase('cap_ddl');
    databases.push(db);
    const pool = createPool({ url: db.url, max: 4, applicationName: 'ddl-apply-test', logger });
    pools.push(pool);
    return pool;
  }

  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.end()));
    await Promise.all(databases.splice(0).map((d) => d.drop()));
  });

  async function columnsOf(pool: Pool, table: string): Promise<Record<string, string>> {
    const { rows } = await pool.query<{
      column_name: string;
      data_type: string;
      character_maximum_length: number | null;
      is_nullable: string;
      is_identity: string;
    }>(
      `SELECT column_name, data_type, character_maximum_length, is_nullable, is_identity
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
      [table],
    );
    return Object.fromEntries(
      rows.map((r) => [
        r.column_name,
        `${r.data_type}${r.character_maximum_length ? `(${r.character_maximum_length})` : ''}${r.is_nullable === 'NO' ? ' not null' : ''}${r.is_identity === 'YES' ? ' identity' : ''}`,
      ]),
    );
  }

  async function tablesOf(pool: Pool): Promise<string[]> {
    const { rows } = await pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    return rows.map((r) => r.table_name);
  }

  async function indexesOf(pool: Pool, table: string): Promise<string[]> {
    const { rows } = await pool.query<{ indexdef: string }>(
      `SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = $1 ORDER BY indexname`,
      [table],
    );
    return rows.map((r) => r.indexdef);
  }

  it('when the built-ins are applied to a local database, then its tables, identity keys, staging columns and indexes exist and the outbox is left alone', async () => {
    const pool = await freshDatabase();
    await migrate(pool, { database: 'local', migrations: await loadMigrations(join(ROOT, 'apps', 'local-store', 'migrations')), logger });

    const migrated = (await introspectDatabase(pool)).filter((t) => t.name.startsWith('cap_'));

    const plan = await applySchemaDdl(pool, builtins, 'local', logger);

    expect(plan.statements.length).toBeGreaterThan(0);
    expect((await tablesOf(pool)).filter((t) => !t.startsWith('cap_'))).toEqual([
      'nms_batch_event',
      'nms_country',
      'nms_delivery',
      'nms_delivery_mapping',
      'nms_ext_account',
      'nms_group',
      'nms_recipient_stg',
      'nms_rt_event',
      'nms_service',
      'nms_subscription_stg',
      'xtk_enum',
      'xtk_enum_value',
      'xtk_file_res',
      'xtk_folder',
      'xtk_image',
      'xtk_operator',
      'xtk_option',
      'xtk_workflow',
    ]);
    expect(await columnsOf(pool, 'xtk_operator')).toMatchObject({
      id: 'bigint not null identity',
      name: 'character varying(64) not null',
      disabled: 'boolean',
      timezone: 'character varying(64)',
    });
    expect(await columnsOf(pool, 'nms_recipient_stg')).toMatchObject({
      id: 'text',
      email: 'character varying(128)',
      folder_id: 'bigint',
      cap_seq: 'bigint not null identity',
      cap_op: 'text not null',
      cap_staged_at: 'timestamp with time zone not null',
      cap_synced_at: 'timestamp with time zone',
    });
    expect(await indexesOf(pool, 'nms_recipient_stg')).toEqual([
      'CREATE UNIQUE INDEX nms_recipient_stg_cap_seq_key ON public.nms_recipient_stg USING btree (cap_seq)',
      'CREATE INDEX nms_recipient_stg_cap_unsynced_idx ON public.nms_recipient_stg USING btree (cap_seq) WHERE (cap_synced_at IS NULL)',
      'CREATE INDEX nms_recipient_stg_id_idx ON public.nms_recipient_stg USING btree (id)',
    ]);
    // Tables created by the services' migrations (cap_outbox…) are not the DDL's: untouched.
    expect((await introspectDatabase(pool)).filter((t) => t.name.startsWith('cap_'))).toEqual(migrated);
    expect(migrated.map((t) => t.name)).toContain('cap_outbox');

    // Identity ids are generated; defaults apply; the unique key holds.
    const op = await pool.query<{ id: string; disabled: boolean; timezone: string }>(
      `INSERT INTO xtk_operator (name) VALUES ('admin') RETURNING id, disabled, timezone`,
    );
    expect(op.rows[0]).toEqual({ id: expect.stringMatching(/^\d+$/), disabled: false, timezone: 'UTC' });
    await expect(pool.query(`INSERT INTO xtk_operator (name) VALUES ('admin')`)).rejects.toMatchObject({ code: '23505' });

    // Staging keeps every version of a row, in one global order.
    const staged = await pool.query<{ cap_seq: string; cap_op: string }>(
      `INSERT INTO nms_recipient_stg (id, email) VALUES ($1, 'a@example.com'), ($1, 'b@example.com'), (NULL, 'c@example.com') RETURNING cap_seq, cap_op`,
      [UUID],
    );
    const seqs = staged.rows.map((r) => BigInt(r.cap_seq));
    expect(seqs[1]! > seqs[0]! && seqs[2]! > seqs[1]!).toBe(true);
    expect(staged.rows.map((r) => r.cap_op)).toEqual(['upsert', 'upsert', 'upsert']);
    await expect(pool.query(`INSERT INTO nms_recipient_stg (email, cap_op) VALUES ('d@example.com', 'merge')`)).rejects.toMatchObject({ code: '23514' });
    await expect(pool.query(`INSERT INTO nms_recipient_stg (id) VALUES ('not an id; DROP TABLE x')`)).rejects.toMatchObject({ code: '23514' });
    await expect(pool.query(`INSERT INTO nms_recipient_stg (cap_seq, email) VALUES (1, 'e@example.com')`)).rejects.toMatchObject({ code: '428C9' });
  });

  it('when the built-ins are applied to a cloud database, then cloud and replicated tables exist with UUID text keys and plain replicated ids', async () => {
    const pool = await freshDatabase();

    await applySchemaDdl(pool, builtins, 'cloud', logger);

    expect(await tablesOf(pool)).toEqual([
      'nms_broad_log_event',
      'nms_broad_log_rcp',
      'nms_country',
      'nms_delivery',
      'nms_delivery_mapping',
      'nms_event_stat',
      'nms_ext_account',
      'nms_group',
      'nms_rcp_grp_rel',
      'nms_recipient',
      'nms_service',
      'nms_subscription',
      'nms_tracking_log_rcp',
      'xtk_enum',
      'xtk_enum_value',
      'xtk_folder',
      'xtk_image',
    ]);
    expect(await columnsOf(pool, 'nms_recipient')).toMatchObject({
      id: 'text not null',
      email: 'character varying(128)',
      email_format: 'smallint',
      cap_seq: 'bigint',
    });
    expect(await columnsOf(pool, 'xtk_folder')).toMatchObject({ id: 'bigint not null', parent_id: 'bigint' });
    expect(await indexesOf(pool, 'nms_subscription')).toEqual([
      'CREATE UNIQUE INDEX nms_subscription_pkey ON public.nms_subscription USING btree (id)',
      'CREATE UNIQUE INDEX nms_subscription_recipient_id_service_id_key ON public.nms_subscription USING btree (recipient_id, service_id)',
      'CREATE INDEX nms_subscription_service_id_idx ON public.nms_subscription USING btree (service_id)',
    ]);

    // Replicated ids come from the local master: no generation in the cloud copy.
    await expect(pool.query(`INSERT INTO xtk_folder (name) VALUES ('root')`)).rejects.toMatchObject({ code: '23502' });
    await pool.query(`INSERT INTO xtk_folder (id, name) VALUES (42, 'root')`);
    // UUID keys are strings: read back exactly as written; anything else is refused.
    await pool.query(`INSERT INTO nms_recipient (id, email, folder_id) VALUES ($1, 'a@example.com', 42)`, [UUID.toUpperCase()]);
    expect((await pool.query<{ id: string; email_format: number }>('SELECT id, email_format FROM nms_recipient')).rows).toEqual([
      { id: UUID.toUpperCase(), email_format: 0 },
    ]);
    await expect(pool.query(`INSERT INTO nms_recipient (id) VALUES ('42 OR 1=1')`)).rejects.toMatchObject({ code: '23514' });
  });

  it('when the DDL is applied again, or by two replicas at once, then it is applied once and the second run has nothing to do', async () => {
    const pool = await freshDatabase();

    const [a, b] = await Promise.all([applySchemaDdl(pool, builtins, 'local', logger), applySchemaDdl(pool, builtins, 'local', logger)]);
    const again = await applySchemaDdl(pool, builtins, 'local', logger);

    expect([a.statements.length, b.statements.length].sort((x, y) => x - y)).toEqual([0, expect.any(Number)]);
    expect(Math.max(a.statements.length, b.statements.length)).toBeGreaterThan(0);
    expect(again.statements).toEqual([]);
    expect(again.summary).toBe('local database: up to date (18 schema tables)');
  });

  it('when nms:recipient is extended with an attribute, then the column is added to the cloud table and to the local staging table', async () => {
    const local = await freshDatabase();
    const cloud = await freshDatabase();
    await applySchemaDdl(local, builtins, 'local', logger);
    await applySchemaDdl(cloud, builtins, 'cloud', logger);
    await cloud.query(`INSERT INTO nms_recipient (id, email) VALUES ($1, 'kept@example.com')`, [UUID]);
    const extended = compileSchemas([...builtinSources(), loyaltyExtension]);

    const localPlan = await applySchemaDdl(local, extended, 'local', logger);
    const cloudPlan = await applySchemaDdl(cloud, extended, 'cloud', logger);

    expect(localPlan.statements.map((s) => s.sql)).toEqual(['ALTER TABLE "nms_recipient_stg" ADD COLUMN "loyalty_tier" varchar(16)']);
    expect(cloudPlan.statements.map((s) => s.sql)).toEqual(['ALTER TABLE "nms_recipient" ADD COLUMN "loyalty_tier" varchar(16)']);
    expect(await columnsOf(local, 'nms_recipient_stg')).toMatchObject({ loyalty_tier: 'character varying(16)' });
    expect(await columnsOf(cloud, 'nms_recipient')).toMatchObject({ loyalty_tier: 'character varying(16)' });
    expect((await cloud.query('SELECT email, loyalty_tier FROM nms_recipient')).rows).toEqual([{ email: 'kept@example.com', loyalty_tier: null }]);
    expect((await applySchemaDdl(cloud, extended, 'cloud', logger)).statements).toEqual([]);
  });

  it('when an attribute changes type incompatibly, then the DDL is refused with a clear message and nothing at all is applied', async () => {
    const cloud = await freshDatabase();
    await applySchemaDdl(cloud, builtins, 'cloud', logger);
    const before = await introspectDatabase(cloud);
    // One additive change and one destructive change together: the additive one must not be applied either.
    const changed = withRecipientEdited((t) => t.replace('name="firstName" type="string" length="64"', 'name="firstName" type="long"'), loyaltyExtension);

    const refused = applySchemaDdl(cloud, changed, 'cloud', logger);

    await expect(refused).rejects.toBeInstanceOf(DdlError);
    await expect(refused).rejects.toThrow(
      'DDL-000001 Refusing destructive change on cloud.nms_recipient: column first_name is varchar(64) in the database but integer in the schema nms:recipient (nms-recipient.xml)',
    );
    expect(await introspectDatabase(cloud)).toEqual(before);
    expect(await columnsOf(cloud, 'nms_recipient')).not.toHaveProperty('loyalty_tier');
  });

  it('when a statement fails half-way through the plan, then the statements before it are rolled back too', async () => {
    const cloud = await freshDatabase();
    await applySchemaDdl(cloud, builtins, 'cloud', logger);
    await cloud.query(`INSERT INTO nms_recipient (id, external_id) VALUES ($1, 'CRM 0001')`, [UUID]);
    const before = await introspectDatabase(cloud);
    // Adds loyalty_tier, widens external_id to text, then adds its UUID check, which the existing row fails.
    const changed = withRecipientEdited((t) => t.replace('name="externalId" type="string" length="64"', 'name="externalId" type="uuid"'), loyaltyExtension);

    await expect(applySchemaDdl(cloud, changed, 'cloud', logger)).rejects.toMatchObject({ code: '23514' });

    expect(await introspectDatabase(cloud)).toEqual(before);
    expect((await cloud.query('SELECT external_id FROM nms_recipient')).rows).toEqual([{ external_id: 'CRM 0001' }]);
  });

  it('when a string attribute gets longer, then the column is widened and its data kept', async () => {
    const local = await freshDatabase();
    const cloud = await freshDatabase();
    await applySchemaDdl(local, builtins, 'local', logger);
    await applySchemaDdl(cloud, builtins, 'cloud', logger);
    await cloud.query(`INSERT INTO nms_recipient (id, first_name) VALUES ($1, 'Ada')`, [UUID]);
    const widened = withRecipientEdited((t) => t.replace('name="firstName" type="string" length="64"', 'name="firstName" type="string" length="128"'));

    const cloudPlan = await applySchemaDdl(cloud, widened, 'cloud', logger);
    await applySchemaDdl(local, widened, 'local', logger);

    expect(cloudPlan.statements.map((s) => s.sql)).toEqual(['ALTER TABLE "nms_recipient" ALTER COLUMN "first_name" TYPE varchar(128)']);
    expect(await columnsOf(cloud, 'nms_recipient')).toMatchObject({ first_name: 'character varying(128)' });
    expect(await columnsOf(local, 'nms_recipient_stg')).toMatchObject({ first_name: 'character varying(128)' });
    expect((await cloud.query('SELECT first_name FROM nms_recipient')).rows).toEqual([{ first_name: 'Ada' }]);
    expect((await applySchemaDdl(cloud, widened, 'cloud', logger)).statements).toEqual([]);
  });

  it('when a managed column is dropped from the schema by going back to the built-ins, then the DDL refuses to drop it', async () => {
    const cloud = await freshDatabase();
    await applySchemaDdl(cloud, compileSchemas([...builtinSources(), loyaltyExtension]), 'cloud', logger);

    await expect(applySchemaDdl(cloud, builtins, 'cloud', logger)).rejects.toThrow(
      'DDL-000001 Refusing destructive change on cloud.nms_recipient: column loyalty_tier (varchar(16)) exists in the database but not in the schema nms:recipient (nms-recipient.xml); drop it by hand if that is intended',
    );
    expect(await columnsOf(cloud, 'nms_recipient')).toHaveProperty('loyalty_tier');
  });
});
