import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { TOPICS, SERVICES } from '@cap/contracts';
import { createLogger } from '@cap/platform-logger';
import { createMessaging, RETRY_PROFILES, startRpcClient, type Messaging, type RpcClient } from '@cap/platform-kafka';
import { failure, sdkLogon, startTestPlatform, testEndpoints, uniqueId, withDb, type SdkClient, type TestPlatform } from '@cap/platform-testing';

/**
 * Authorisation of writes by the schema each record really writes, in the service that writes it: a non-admin
 * operator (the development seed's `mc`, rights `messageCenter`) never writes a protected schema (`xtk:operator`,
 * `xtk:option`, `xtk:workflow`: `<sysFilter name="writeAccess">` in their srcSchema) by any path — a later record
 * of a collection, a linked record created or updated from a sub-element, DeleteCollection — and local-store
 * refuses such a write even when the request reaches it directly with forged rights.
 */
describe('write authorisation by the schema of every written record', () => {
  let platform: TestPlatform;
  let url: string;
  let schemaDir: string;
  let messaging: Messaging;
  let rpc: RpcClient;
  let mc: SdkClient;
  let admin: SdkClient;

  const logon = (user: string, password: string) => sdkLogon(url, user, password);
  const localQuery = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> =>
    (await withDb(platform.localDb.url, (c) => c.query<T>(sql, params))).rows;
  const operatorRow = async (login: string) =>
    (
      await localQuery<{ id: string; rights: string | null; label: string | null }>('SELECT id::text, rights, label FROM xtk_operator WHERE name = $1', [login])
    )[0];

  beforeAll(async () => {
    // A customer schema with a link to xtk:operator, so a record can carry an operator sub-element.
    schemaDir = mkdtempSync(join(tmpdir(), 'cap-authz-'));
    writeFileSync(
      join(schemaDir, 'cus-ticket.xml'),
      `<srcSchema namespace="cus" name="ticket" implements="xtk:persist" placement="local">
  <element name="ticket" autopk="true">
    <key name="title"><keyfield xpath="@title"/></key>
    <attribute name="title" type="string" length="64"/>
    <element name="owner" type="link" target="xtk:operator"/>
  </element>
</srcSchema>`,
    );
    platform = await startTestPlatform({ env: { SCHEMA_DIRS: schemaDir } });
    url = platform.gatewayUrl;
    mc = await logon('mc', 'mc');
    admin = await logon('admin', 'admin');
    messaging = createMessaging({
      brokers: testEndpoints().kafkaBrokers,
      clientId: uniqueId('authz'),
      topicPrefix: platform.topicPrefix,
      logger: createLogger({ service: 'authz-test', level: 'silent' }),
      retry: RETRY_PROFILES.fast,
    });
    rpc = await startRpcClient(messaging, { instanceId: uniqueId('authz'), defaultTimeoutMs: 5_000 });
  });

  afterAll(async () => {
    await rpc?.stop();
    await messaging?.close();
    await platform?.stop();
    rmSync(schemaDir, { recursive: true, force: true });
  });

  it('when a non-admin writes a collection whose first record is allowed and a later one is an operator, then nothing is written and its rights are unchanged', async () => {
    const service = uniqueId('svc');
    const err = await failure(
      mc.NLWS.xtkSession.writeCollection({
        xtkschema: 'nms:service',
        service: [{ xtkschema: 'nms:service', name: service, label: 'allowed' }],
        operator: [{ xtkschema: 'xtk:operator', _key: '@name', name: 'mc', rights: 'messageCenter,admin' }],
      }),
    );
    expect(err.errorCode).toBe('XSV-350013');
    expect((await operatorRow('mc'))?.rights).toBe('messageCenter');
    // The whole collection is refused: the allowed first record is not written either.
    expect(await localQuery('SELECT 1 FROM nms_service WHERE name = $1', [service])).toHaveLength(0);
    // Logging on again gives the same rights.
    const again = await logon('mc', 'mc');
    expect(again.application.operator.hasRight('admin')).toBe(false);
    // A collection led by a cloud schema goes to the cloud database, which refuses a record it does not hold.
    const email = `${uniqueId('authz')}@example.com`;
    await failure(
      mc.NLWS.xtkSession.writeCollection({
        xtkschema: 'nms:recipient',
        recipient: [{ xtkschema: 'nms:recipient', email }],
        operator: [{ xtkschema: 'xtk:operator', _key: '@name', name: 'mc', rights: 'admin' }],
      }),
    );
    expect((await operatorRow('mc'))?.rights).toBe('messageCenter');
  });

  it('when a non-admin writes a container of another schema holding an operator record, then it is refused', async () => {
    const err = await failure(
      mc.NLWS.xtkSession.writeCollection({
        xtkschema: 'cus:ticket',
        ticket: [{ xtkschema: 'cus:ticket', title: uniqueId('t') }],
        operator: [{ xtkschema: 'xtk:operator', _key: '@name', name: 'mc', rights: 'admin' }],
      }),
    );
    expect(err.errorCode).toBe('XSV-350013');
    expect((await operatorRow('mc'))?.rights).toBe('messageCenter');
  });

  it('when a non-admin writes a record whose linked sub-element updates an operator, then nothing is written', async () => {
    const title = uniqueId('ticket');
    const err = await failure(mc.NLWS.xtkSession.write({ xtkschema: 'cus:ticket', title, owner: { _key: '@name', name: 'mc', rights: 'admin' } }));
    expect(err.errorCode).toBe('XSV-350013');
    expect((await operatorRow('mc'))?.rights).toBe('messageCenter');
    expect(await localQuery('SELECT 1 FROM cus_ticket WHERE title = $1', [title])).toHaveLength(0);
  });

  it('when a non-admin links a record to an existing operator without changing it, then the write is allowed', async () => {
    const title = uniqueId('ticket');
    await mc.NLWS.xtkSession.write({ xtkschema: 'cus:ticket', title, owner: { _key: '@name', name: 'admin', _operation: 'none' } });
    const [row] = await localQuery<{ owner_id: string }>('SELECT owner_id::text FROM cus_ticket WHERE title = $1', [title]);
    expect(row?.owner_id).toBe((await operatorRow('admin'))?.id);
  });

  it('when a non-admin writes an option, a workflow or deletes operators, then each is refused with XSV-350013', async () => {
    expect((await failure(mc.NLWS.xtkSession.write({ xtkschema: 'xtk:option', name: uniqueId('opt'), stringValue: 'x' }))).errorCode).toBe('XSV-350013');
    expect((await failure(mc.NLWS.xtkSession.write({ xtkschema: 'xtk:workflow', internalName: uniqueId('wkf'), label: 'x' }))).errorCode).toBe('XSV-350013');
    const before = await localQuery('SELECT name FROM xtk_operator');
    const err = await failure(mc.NLWS.xtkSession.deleteCollection('xtk:operator', { condition: { expr: "@name = 'admin'" } }));
    expect(err.errorCode).toBe('XSV-350013');
    expect(await localQuery('SELECT name FROM xtk_operator')).toEqual(before);
  });

  it('when a request reaches local-store directly with an operator id and forged admin rights, then local-store checks the stored rights and refuses', async () => {
    const mcRow = await operatorRow('mc');
    const doc = `<operator xtkschema="xtk:operator" _key="@name" name="mc" rights="admin"/>`;
    await expect(
      rpc.request({ service: SERVICES.localStore, topic: TOPICS.localStoreRequests }, 'data.write', {
        mode: 'write',
        doc,
        operatorId: mcRow!.id,
        operatorLogin: 'mc',
        operatorRights: ['admin'],
      }),
    ).rejects.toMatchObject({ code: 'XSV-350013' });
    // Without any operator (a system caller such as a workflow): no rights either.
    await expect(rpc.request({ service: SERVICES.localStore, topic: TOPICS.localStoreRequests }, 'data.write', { mode: 'write', doc })).rejects.toMatchObject({
      code: 'XSV-350013',
    });
    expect((await operatorRow('mc'))?.rights).toBe('messageCenter');
  });

  it('when an admin writes an operator, then it is written (the rule restricts, it does not forbid)', async () => {
    const login = uniqueId('op');
    await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:operator', name: login, label: 'Created by admin', rights: 'messageCenter' });
    expect((await operatorRow(login))?.label).toBe('Created by admin');
  });
});
