import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { failure, freePort, sdkLogon, startTestPlatform, uniqueId, waitFor, withDb, type SdkClient, type TestPlatform } from '@cap/platform-testing';
const { DomUtil } = require('@adobe/acc-js-sdk');

/** A customer schema whose label the refresh test changes between two gateway starts. */
const gadgetSchema = (label: string) => `<srcSchema namespace="cus" name="gadget" label="${label}" implements="xtk:persist" placement="local">
  <element name="gadget" autopk="true">
    <key name="code"><keyfield xpath="@code"/></key>
    <attribute name="code" type="string" length="64"/>
    <attribute name="size" type="long" default="3"/>
    <attribute name="active" type="boolean" default="true"/>
    <element name="box"><attribute name="weight" type="long" default="7"/></element>
  </element>
</srcSchema>`;

/** A customer schema whose unique key is a string within a number: Duplicate renames the string within its site. */
const slotSchema = `<srcSchema namespace="cus" name="slot" implements="xtk:persist" placement="local">
  <element name="slot" autopk="true">
    <key name="place"><keyfield xpath="@site"/><keyfield xpath="@code"/></key>
    <attribute name="site" type="long"/>
    <attribute name="code" type="string" length="8"/>
  </element>
</srcSchema>`;

const ids = (idList: string): bigint[] => idList.split(',').map((s) => BigInt(s));
const max = (values: bigint[]): bigint => values.reduce((a, b) => (b > a ? b : a));

// Through Adobe's own client, unmodified: the compatibility bar (docs/campaign-api.md).
describe('object lifecycle methods through the unmodified SDK', () => {
  let platform: TestPlatform;
  let url: string;
  let schemaDir: string;
  let admin: SdkClient;
  let mc: SdkClient;

  const logon = (user: string, password: string) => sdkLogon(url, user, password);
  const localDb = <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => withDb(platform.localDb.url, fn);
  /** A raw SOAP call without any session: what an anonymous caller sends. */
  const anonymous = async (urn: string, method: string, params: string): Promise<string> => {
    const res = await fetch(`${url}/nl/jsp/soaprouter.jsp`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/soap+xml;charset=UTF-8', SoapAction: `${urn}#${method}` },
      body:
        `<SOAP-ENV:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">` +
        `<SOAP-ENV:Body><m:${method} xmlns:m="urn:${urn}"><sessiontoken xsi:type="xsd:string"/>${params}</m:${method}></SOAP-ENV:Body></SOAP-ENV:Envelope>`,
    });
    expect(res.status).toBe(200);
    return res.text();
  };
  const stillServing = async () => {
    expect(ids(await admin.NLWS.xtkSession.getNewIds(1))).toHaveLength(1);
    expect((await platform.procs.get('api-gateway')!.readyz()).status).toBe(200);
  };

  beforeAll(async () => {
    schemaDir = mkdtempSync(join(tmpdir(), 'cap-lifecycle-'));
    writeFileSync(join(schemaDir, 'cus-gadget.xml'), gadgetSchema('Gadgets'));
    writeFileSync(join(schemaDir, 'cus-slot.xml'), slotSchema);
    // A fixed gateway port: the refresh test restarts the gateway under the same address.
    const port = await freePort();
    platform = await startTestPlatform({ env: { SCHEMA_DIRS: schemaDir }, envFor: { 'api-gateway': { HTTP_PORT: String(port) } } });
    url = platform.gatewayUrl;
    admin = await logon('admin', 'admin');
    mc = await logon('mc', 'mc');
  });

  afterAll(async () => {
    await platform?.stop();
    rmSync(schemaDir, { recursive: true, force: true });
  });

  describe('xtk:session#GetNewIdsEx and GetNewIds', () => {
    it('when two clients reserve ids at the same time, then every id is unique and above every id reserved before', async () => {
      const before = ids(await admin.NLWS.xtkSession.getNewIdsEx(5, 'XtkNewId'));
      expect(before).toHaveLength(5);
      const [a, b, c] = await Promise.all([
        admin.NLWS.xtkSession.getNewIdsEx(200, 'XtkNewId'),
        mc.NLWS.xtkSession.getNewIdsEx(200, 'xtkNewId'),
        admin.NLWS.xtkSession.getNewIds(50),
      ]);
      const all = [...ids(a), ...ids(b), ...ids(c)];
      expect(all).toHaveLength(450);
      expect(new Set(all.map(String)).size).toBe(450);
      for (const id of all) expect(id > max(before)).toBe(true);
    });

    it('when the sequence is empty, then ids come from XtkNewId', async () => {
      const before = max(ids(await admin.NLWS.xtkSession.getNewIds(1)));
      const got = ids(await admin.NLWS.xtkSession.getNewIdsEx(3, ''));
      expect(got).toHaveLength(3);
      for (const id of got) expect(id > before).toBe(true);
    });

    it('when a reserved id is written as a record id, then the record has it', async () => {
      const [id] = ids(await admin.NLWS.xtkSession.getNewIdsEx(1, 'XtkNewId'));
      const code = uniqueId('g');
      await admin.NLWS.xtkSession.write({ xtkschema: 'cus:gadget', id: String(id), code, _operation: 'insert' });
      const rows = await localDb((c) => c.query<{ id: string }>('SELECT id::text FROM cus_gadget WHERE code = $1', [code]));
      expect(rows.rows).toEqual([{ id: String(id) }]);
    });

    it('when the count is zero, negative, huge or not a number, or the sequence unknown, then a Campaign fault and no id is taken', async () => {
      const before = max(ids(await admin.NLWS.xtkSession.getNewIds(1)));
      for (const count of [0, -5, 10_001, 2_147_483_647, 'lots']) {
        expect(await failure(admin.NLWS.xtkSession.getNewIdsEx(count, 'XtkNewId'))).toMatchObject({ statusCode: 500, errorCode: 'SOP-330008' });
      }
      expect(await failure(admin.NLWS.xtkSession.getNewIds(1e9))).toMatchObject({ errorCode: 'SOP-330008' });
      expect(await failure(admin.NLWS.xtkSession.getNewIdsEx(1, 'NoSuchSequence'))).toMatchObject({ errorCode: 'SOP-330008' });
      expect(await failure(admin.NLWS.xtkSession.getNewIdsEx(1, 'x'.repeat(100_000)))).toMatchObject({ errorCode: 'SOP-330008' });
      // Nothing was taken by the refused calls: the next id follows the one before.
      const [next] = ids(await admin.NLWS.xtkSession.getNewIds(1));
      expect(next! - before).toBeLessThan(10n);
      await stillServing();
    });

    it('when ids are reserved from NmsRecipientId as sample 004 does, then they are new ids that never meet XtkNewId ids or the ids recipients get', async () => {
      const before = max(ids(await admin.NLWS.xtkSession.getNewIds(1)));
      // The sample's own loop: twenty calls of one id each.
      const one: bigint[] = [];
      for (let i = 0; i < 20; i++) one.push(...ids(await admin.NLWS.xtkSession.getNewIdsEx(1, 'NmsRecipientId')));
      expect(new Set(one.map(String)).size).toBe(20);
      for (const id of one) expect(id > before).toBe(true);
      // Every standard name of a default install, in any case, at the same time as XtkNewId: one id space.
      const batches = await Promise.all([
        admin.NLWS.xtkSession.getNewIdsEx(100, 'NmsRecipientId'),
        mc.NLWS.xtkSession.getNewIdsEx(100, 'XtkNewId'),
        admin.NLWS.xtkSession.getNewIdsEx(50, 'nmsrecipientid'),
        admin.NLWS.xtkSession.getNewIdsEx(10, 'NmsBroadLogId'),
        admin.NLWS.xtkSession.getNewIdsEx(10, 'NMSTRACKINGLOGID'),
      ]);
      const all = [...one, ...batches.flatMap(ids)];
      expect(all).toHaveLength(290);
      expect(new Set(all.map(String)).size).toBe(290);

      // Written as recipients' @id (sample 004's commented part, sample 005 with XtkNewId), next to a recipient whose
      // id the platform gives itself: three rows, three ids, the given ones kept; an update by that id reaches it.
      const [fromRecipientSeq] = ids(await admin.NLWS.xtkSession.getNewIdsEx(1, 'NmsRecipientId'));
      const [fromXtkNewId] = ids(await admin.NLWS.xtkSession.getNewIdsEx(1, 'XtkNewId'));
      const tag = uniqueId('seq');
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:recipient', id: String(fromRecipientSeq), email: `a-${tag}@example.com`, _operation: 'insert' });
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:recipient', id: String(fromXtkNewId), email: `b-${tag}@example.com` });
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:recipient', email: `c-${tag}@example.com`, _operation: 'insert' });
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:recipient', _key: '@id', id: String(fromRecipientSeq), firstName: 'Alex', _operation: 'update' });
      const rows = await withDb(platform.cloudDb.url, (c) =>
        c.query<{ id: string; email: string; first_name: string | null }>(
          'SELECT id, email, first_name FROM nms_recipient WHERE email LIKE $1 ORDER BY email',
          [`%-${tag}@example.com`],
        ),
      );
      expect(rows.rows).toHaveLength(3);
      expect(rows.rows[0]).toEqual({ id: String(fromRecipientSeq), email: `a-${tag}@example.com`, first_name: 'Alex' });
      expect(rows.rows[1]).toMatchObject({ id: String(fromXtkNewId) });
      // The id the platform gives a recipient is a UUID: never all digits, so never one a sequence hands out.
      expect(rows.rows[2]!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    });

    it('when NmsRecipientId is asked with a bad count, or a name close to a known one, then SOP-330008 and no id is taken', async () => {
      const before = max(ids(await admin.NLWS.xtkSession.getNewIds(1)));
      for (const count of [0, -1, 10_001, 2_147_483_647, 'lots', '']) {
        expect(await failure(admin.NLWS.xtkSession.getNewIdsEx(count, 'NmsRecipientId'))).toMatchObject({ statusCode: 500, errorCode: 'SOP-330008' });
      }
      for (const name of ['NmsRecipientIds', 'Nms RecipientId', 'NmsRecipient', '__proto__', 'constructor', "NmsRecipientId'; DROP SEQUENCE xtknewid; --"]) {
        const fault = await failure(admin.NLWS.xtkSession.getNewIdsEx(1, name));
        expect(fault).toMatchObject({ statusCode: 500, errorCode: 'SOP-330008' });
        expect(fault.faultString).toContain('unknown sequence');
      }
      const [next] = ids(await admin.NLWS.xtkSession.getNewIdsEx(1, 'NmsRecipientId'));
      expect(next! - before).toBeLessThan(10n);
      await stillServing();
    });

    it('when an anonymous caller asks for ids, then the session fault', async () => {
      const body = await anonymous('xtk:session', 'GetNewIdsEx', '<count xsi:type="xsd:int">5</count><sequence xsi:type="xsd:string">XtkNewId</sequence>');
      expect(body).toContain('XSV-350008');
      await stillServing();
    });
  });

  describe('xtk:queryDef#BuildQueryEx', () => {
    const queryDef = (internalName: string) => ({
      schema: 'nms:delivery',
      operation: 'select',
      select: { node: [{ expr: '@id' }, { expr: '@internalName' }, { expr: '@isModel' }, { expr: '@state' }] },
      where: { condition: [{ expr: `@internalName = '${internalName}'` }] },
    });

    it('when an administrator builds a query, then its SQL runs on the database and the format names each column with its type', async () => {
      const internalName = uniqueId('DM');
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:delivery', internalName, label: 'Built', _operation: 'insert' });
      const [sql, format] = await admin.NLWS.xtkQueryDef.create(queryDef(internalName)).buildQueryEx();
      expect(format).toBe('delivery,@id:int64,@internalName:string,@isModel:boolean,@state:long');
      const result = await localDb((c) => c.query({ text: sql, rowMode: 'array' }));
      expect(result.fields).toHaveLength(format.split(',').length - 1);
      expect(result.rows).toHaveLength(1);
      expect(String(result.rows[0]![1])).toBe(internalName);
    });

    it('when a value tries to end its literal, then it stays one literal: the SQL matches nothing and drops nothing', async () => {
      const hostile = "x\\'; DROP TABLE cus_gadget; --";
      const [sql] = await admin.NLWS.xtkQueryDef
        .create({
          schema: 'nms:delivery',
          operation: 'select',
          select: { node: [{ expr: '@id' }] },
          where: { condition: [{ expr: `@internalName = '${hostile}'` }] },
        })
        .buildQueryEx();
      expect(sql).toContain("'x''; DROP TABLE cus_gadget; --'");
      expect((await localDb((c) => c.query(String(sql)))).rows).toEqual([]);
      expect((await localDb((c) => c.query("SELECT to_regclass('cus_gadget') AS t"))).rows).toEqual([{ t: 'cus_gadget' }]);
    });

    it('when a non-administrator, an unknown schema or a document that is not a queryDef, then a Campaign fault', async () => {
      expect(await failure(mc.NLWS.xtkQueryDef.create(queryDef('x')).buildQueryEx())).toMatchObject({ errorCode: 'XSV-350013' });
      expect(await failure(admin.NLWS.xtkQueryDef.create({ schema: 'cus:nothing', operation: 'select' }).buildQueryEx())).toMatchObject({
        statusCode: 500,
      });
      const bad = await failure(
        admin.NLWS.xtkQueryDef.create({ schema: 'nms:delivery', operation: 'select', select: { node: [{ expr: '@nothing' }] } }).buildQueryEx(),
      );
      expect(bad.statusCode).toBe(500);
      expect(bad.errorCode).toMatch(/^[A-Z]{3}-\d{6}$/);
      const anon = await anonymous('xtk:queryDef', 'BuildQueryEx', '<document xsi:type=""><queryDef schema="nms:delivery" operation="select"/></document>');
      expect(anon).toContain('XSV-350008');
      await stillServing();
    });
  });

  describe('xtk:persist#NewInstance', () => {
    it('when a delivery is created with NewInstance, then it has a new id and the defaults, and nothing is written until it is saved', async () => {
      const internalName = uniqueId('DM');
      const delivery = admin.NLWS.nmsDelivery.create({ label: 'Fresh', internalName });
      await delivery.newInstance();
      expect(delivery.entity).toMatchObject({ label: 'Fresh', internalName, isModel: 'false', messageType: '0', state: '0', _operation: 'insert' });
      expect(delivery.entity.id).toMatch(/^\d+$/);
      const count = async () =>
        (await localDb((c) => c.query<{ n: string }>('SELECT count(*)::text AS n FROM nms_delivery WHERE internal_name = $1', [internalName]))).rows[0]!.n;
      expect(await count()).toBe('0');
      await admin.NLWS.xtkSession.write(delivery);
      const row = await localDb((c) => c.query<{ id: string }>('SELECT id::text FROM nms_delivery WHERE internal_name = $1', [internalName]));
      expect(row.rows).toEqual([{ id: delivery.entity.id }]);
    });

    it('when two gadgets are created at the same time, then their ids differ; nested defaults are filled and given values kept', async () => {
      const [a, b] = [admin.NLWS.cusGadget.create({ code: 'a', size: '9' }), admin.NLWS.cusGadget.create({})];
      await Promise.all([a.newInstance(), b.newInstance()]);
      expect(a.entity.id).not.toBe(b.entity.id);
      expect(a.entity).toMatchObject({ code: 'a', size: '9', active: 'true', box: { weight: '7' } });
      expect(b.entity).toMatchObject({ size: '3', active: 'true' });
    });

    it('when NewInstance is called on an unknown schema, a schema without rows, or anonymously, then a Campaign fault and nothing is written', async () => {
      const rowsBefore = (await localDb((c) => c.query<{ n: string }>('SELECT count(*)::text AS n FROM cus_gadget'))).rows[0]!.n;
      const onSession = await failure(admin.NLWS.xtkSession.create({}).newInstance());
      expect(onSession.statusCode).toBe(500);
      expect(onSession.errorCode).toMatch(/^[A-Z]{3}-\d{6}$/);
      const unknownSchema = await withSession(url, admin, 'xtk:persist|cus:nothing', 'NewInstance', '<document xsi:type=""><nothing/></document>');
      expect(unknownSchema).toMatch(/SOP-330006|XTK-170101/);
      const anon = await anonymous('xtk:persist|cus:gadget', 'NewInstance', '<document xsi:type=""><gadget xtkschema="cus:gadget"/></document>');
      expect(anon).toContain('XSV-350008');
      expect((await localDb((c) => c.query<{ n: string }>('SELECT count(*)::text AS n FROM cus_gadget'))).rows[0]!.n).toBe(rowsBefore);
      await stillServing();
    });
  });

  describe('sample 005 "NewInstance": a delivery from NewInstance, with a description, saved, updated and deleted', () => {
    type DeliveryRow = { id: string; internal_name: string; label: string; mdesc: string | null };
    const deliveryRow = async (id: string) =>
      (await localDb((c) => c.query<DeliveryRow>('SELECT id::text, internal_name, label, mdesc FROM nms_delivery WHERE id = $1', [id]))).rows[0];

    it('when a delivery is created as the sample does, then it has an internal name DM<n>, its description is saved, and update and delete work', async () => {
      // As samples/005 of the SDK: create, newInstance, $desc, write, update, delete.
      const delivery = admin.NLWS.nmsDelivery.create({ label: 'Test #1', messageType: '0' });
      await delivery.newInstance();
      expect(delivery.entity.internalName).toMatch(/^DM\d+$/);
      delivery.$desc = 'My description';
      await admin.NLWS.xtkSession.write(delivery);
      expect(await deliveryRow(delivery.entity.id)).toEqual({
        id: delivery.entity.id,
        internal_name: delivery.entity.internalName,
        label: 'Test #1',
        mdesc: 'My description',
      });

      delivery._operation = 'update';
      delivery.label = 'Test #4';
      await delivery.save();
      expect(await deliveryRow(delivery.entity.id)).toMatchObject({ label: 'Test #4', mdesc: 'My description' });
      // nms:delivery is replicated: the start-up DDL gave its cloud copy the column too (staging-sync, not started
      // here, carries the value over as for any column).
      const cloudColumns = await withDb(platform.cloudDb.url, (c) =>
        c.query("SELECT data_type FROM information_schema.columns WHERE table_name = 'nms_delivery' AND column_name = 'mdesc'"),
      );
      expect(cloudColumns.rows).toEqual([{ data_type: 'text' }]);

      delivery._operation = 'delete';
      await delivery.save();
      expect(await deliveryRow(delivery.entity.id)).toBeUndefined();
    });

    it('when deliveries are created one after another, then each gets its own DM<n>, skipping a name a delivery already has; a given name is kept', async () => {
      const last = BigInt(
        (await localDb((c) => c.query<{ n: string }>('SELECT (CASE WHEN is_called THEN last_value ELSE last_value - 1 END)::text AS n FROM deliveryid')))
          .rows[0]!.n,
      );
      // The next counter value is already someone's internal name (written by hand): NewInstance takes the one after.
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:delivery', internalName: `DM${last + 1n}`, label: 'By hand', _operation: 'insert' });
      const a = admin.NLWS.nmsDelivery.create({ label: 'A' });
      const b = admin.NLWS.nmsDelivery.create({ label: 'B' });
      await a.newInstance();
      await b.newInstance();
      expect(a.entity.internalName).toBe(`DM${last + 2n}`);
      expect(b.entity.internalName).toBe(`DM${last + 3n}`);
      const given = uniqueId('DM');
      const named = admin.NLWS.nmsDelivery.create({ label: 'C', internalName: given });
      await named.newInstance();
      expect(named.entity.internalName).toBe(given);
    });

    it('when a delivery document holds an unknown element, then Write still refuses it with XTK-170102 and writes nothing', async () => {
      const delivery = admin.NLWS.nmsDelivery.create({ label: 'Unknown element' });
      await delivery.newInstance();
      delivery.$nothing = 'x';
      expect(await failure(admin.NLWS.xtkSession.write(delivery))).toMatchObject({ errorCode: 'XTK-170102' });
      expect(await deliveryRow(delivery.entity.id)).toBeUndefined();
    });
  });

  describe('xtk:persist#Duplicate (sample 005 "Duplicate")', () => {
    const operatorCount = async () => (await localDb((c) => c.query<{ n: string }>('SELECT count(*)::text AS n FROM xtk_operator'))).rows[0]!.n;
    const operatorId = async (name: string): Promise<string> =>
      (
        await admin.NLWS.xtkQueryDef
          .create({ schema: 'xtk:operator', operation: 'get', select: { node: [{ expr: '@id' }] }, where: { condition: [{ expr: `@name='${name}'` }] } })
          .executeQuery()
      ).id;

    it('when the webapp operator is duplicated as the sample does, then the copy has a new id and name and is saved, then renamed, only when saved', async () => {
      const webAppId = await operatorId('webapp');
      const before = await operatorCount();
      const operator = admin.NLWS.xtkOperator.create();
      await operator.duplicate(`xtk:operator|${webAppId}`);
      expect(operator.entity).toMatchObject({ xtkschema: 'xtk:operator', _operation: 'insert', name: 'webapp_1', label: 'Web applications agent' });
      expect(operator.entity.id).toMatch(/^\d+$/);
      expect(operator.entity.id).not.toBe(webAppId);
      expect(operator.entity).not.toHaveProperty('password');
      expect(operator.entity).not.toHaveProperty('created');
      expect(await operatorCount()).toBe(before);

      const name = uniqueId('alex');
      operator.name = name;
      await operator.save();
      operator.entity.name = operator.entity.name + 'andre';
      operator._operation = 'update';
      await operator.save();
      const rows = await localDb((c) => c.query<{ name: string; label: string }>('SELECT name, label FROM xtk_operator WHERE id = $1', [operator.entity.id]));
      expect(rows.rows).toEqual([{ name: `${name}andre`, label: 'Web applications agent' }]);
      expect(await operatorCount()).toBe(String(Number(before) + 1));
    });

    it('when an administrator duplicates the admin operator, then the copy keeps its rights but no password: nobody can log on as it', async () => {
      const operator = admin.NLWS.xtkOperator.create();
      await operator.duplicate(`xtk:operator|${await operatorId('admin')}`);
      expect(operator.entity).toMatchObject({ rights: 'admin' });
      const name = uniqueId('admcopy');
      operator.name = name;
      await operator.save();
      // The copy exists, with its rights: only its (absent) password keeps it from logging on.
      expect((await localDb((c) => c.query('SELECT rights FROM xtk_operator WHERE name = $1', [name]))).rows).toEqual([{ rights: 'admin' }]);
      expect(await failure(logon(name, 'admin'))).toMatchObject({ errorCode: 'XSV-350001' });
      expect(await failure(logon(name, ''))).toMatchObject({ errorCode: 'XSV-350001' });
    });

    it('when a non-administrator duplicates an operator, then XSV-350013 before anything is read or taken, and it cannot write an admin copy either', async () => {
      const before = await operatorCount();
      const lastId = (await localDb((c) => c.query<{ n: string }>("SELECT last_value::text AS n FROM pg_sequences WHERE sequencename LIKE 'xtk_operator_%'")))
        .rows[0]?.n;
      for (const name of ['admin', 'webapp', 'mc']) {
        const copy = mc.NLWS.xtkOperator.create();
        expect(await failure(copy.duplicate(`xtk:operator|${await operatorId(name)}`))).toMatchObject({ statusCode: 500, errorCode: 'XSV-350013' });
      }
      // What the escalation would need next: writing the copy with admin rights. Refused by local-store as any Write.
      expect(
        await failure(mc.NLWS.xtkSession.write({ xtkschema: 'xtk:operator', name: uniqueId('esc'), rights: 'admin', _operation: 'insert' })),
      ).toMatchObject({ errorCode: 'XSV-350013' });
      expect(await operatorCount()).toBe(before);
      expect(
        (await localDb((c) => c.query<{ n: string }>("SELECT last_value::text AS n FROM pg_sequences WHERE sequencename LIKE 'xtk_operator_%'"))).rows[0]?.n,
      ).toBe(lastId);
    });

    it('when a finished delivery is duplicated, then the copy has a new DM<n>, is back in edition without indicators, and keeps content, description and subject', async () => {
      const internalName = uniqueId('DM');
      await admin.NLWS.xml.xtkSession.write(
        DomUtil.parse(
          `<delivery xtkschema="nms:delivery" _operation="insert" internalName="${internalName}" label="Sent" state="95" failureText="none">` +
            `<mailParameters subject="Hello"/><content>&lt;p&gt;Hi&lt;/p&gt;</content><desc>Described</desc><properties processed="40" success="38"/></delivery>`,
        ).documentElement,
      );
      const { id } = (await localDb((c) => c.query<{ id: string }>('SELECT id::text FROM nms_delivery WHERE internal_name = $1', [internalName]))).rows[0]!;
      const copy = admin.NLWS.nmsDelivery.create();
      await copy.duplicate(`nms:delivery|${id}`);
      expect(copy.entity).toMatchObject({ label: 'Sent', state: '0', $desc: 'Described', mailParameters: { subject: 'Hello' }, $content: '<p>Hi</p>' });
      expect(copy.entity.internalName).toMatch(/^DM\d+$/);
      expect(copy.entity.properties).toBeUndefined();
      expect(copy.entity.failureText).toBeUndefined();
      await copy.save();
      const rows = await localDb((c) =>
        c.query<{ internal_name: string; state: number; processed: number | null; mdesc: string }>(
          'SELECT internal_name, state, properties_processed AS processed, mdesc FROM nms_delivery WHERE id = ANY($1::bigint[]) ORDER BY id',
          [[id, copy.entity.id]],
        ),
      );
      expect(rows.rows).toEqual([
        { internal_name: internalName, state: 95, processed: 40, mdesc: 'Described' },
        { internal_name: copy.entity.internalName, state: 0, processed: null, mdesc: 'Described' },
      ]);
    });

    it('when a record with a unique key of a number and a string is duplicated, then the string is renamed to one free within that number, cut to fit', async () => {
      const site = String(Date.now() % 1_000_000_000);
      const other = String(Number(site) + 1);
      for (const [s, code] of [
        [site, 'abcdefgh'],
        [site, 'abcdef_1'],
        [other, 'abcdef_2'],
      ]) {
        await admin.NLWS.xtkSession.write({ xtkschema: 'cus:slot', site: s, code, _operation: 'insert' });
      }
      const { id } = (await localDb((c) => c.query<{ id: string }>('SELECT id::text FROM cus_slot WHERE site = $1 AND code = $2', [site, 'abcdefgh'])))
        .rows[0]!;
      const copy = admin.NLWS.cusSlot.create();
      await copy.duplicate(`cus:slot|${id}`);
      expect(copy.entity).toMatchObject({ site, code: 'abcdef_2' });
      await copy.save();
      const codes = await localDb((c) => c.query<{ code: string }>('SELECT code FROM cus_slot WHERE site = $1 ORDER BY code', [site]));
      expect(codes.rows.map((r) => r.code)).toEqual(['abcdef_1', 'abcdef_2', 'abcdefgh']);
    });

    it('when a recipient (a cloud schema keyed by UUID) is duplicated, then the copy has a new UUID and the same fields, and only its Write adds it', async () => {
      const email = `${uniqueId('dup')}@example.com`;
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:recipient', email, firstName: 'Ada', _operation: 'insert' });
      const cloudDb = <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => withDb(platform.cloudDb.url, fn);
      const rows = async () => (await cloudDb((c) => c.query<{ id: string }>('SELECT id::text FROM nms_recipient WHERE email = $1 ORDER BY id', [email]))).rows;
      const [original] = await rows();
      const copy = admin.NLWS.nmsRecipient.create();
      await copy.duplicate(`nms:recipient|${original!.id}`);
      expect(copy.entity).toMatchObject({ email, firstName: 'Ada', _operation: 'insert' });
      expect(copy.entity.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(copy.entity.id).not.toBe(original!.id);
      expect(await rows()).toHaveLength(1);
      await copy.save();
      expect((await rows()).map((r) => r.id).sort()).toEqual([original!.id, copy.entity.id].sort());
      // A UUID key that is not one: refused before any query.
      expect(await failure(admin.NLWS.nmsRecipient.create().duplicate("nms:recipient|x' OR '1'='1"))).toMatchObject({ errorCode: 'SOP-330008' });
    });

    it('when the key is unknown, malformed, of another schema, on a schema without records, or the caller anonymous, then a Campaign fault and nothing is written', async () => {
      const before = await operatorCount();
      const dup = (pk: unknown) => admin.NLWS.xtkOperator.create().duplicate(pk);
      expect(await failure(dup('xtk:operator|999999999'))).toMatchObject({ statusCode: 500, errorCode: 'XSV-350122' });
      for (const pk of [
        'webapp',
        'xtk:operator|',
        'xtk:operator|abc',
        'xtk:operator|1 OR 1=1',
        'nms:delivery|1',
        'xtk:operator|1|2',
        `xtk:operator|${'9'.repeat(40)}`,
        '',
      ]) {
        expect(await failure(dup(pk))).toMatchObject({ statusCode: 500, errorCode: 'SOP-330008' });
      }
      const onSession = await failure(admin.NLWS.xtkSession.create({}).duplicate('xtk:session|1'));
      expect(onSession.statusCode).toBe(500);
      expect(onSession.errorCode).toMatch(/^[A-Z]{3}-\d{6}$/);
      const unknownSchema = await withSession(
        url,
        admin,
        'xtk:persist|cus:nothing',
        'Duplicate',
        '<document xsi:type=""><nothing/></document><pk xsi:type="xsd:string">cus:nothing|1</pk>',
      );
      expect(unknownSchema).toMatch(/SOP-330006|XTK-170101/);
      const anon = await anonymous(
        'xtk:persist|xtk:operator',
        'Duplicate',
        '<document xsi:type=""><operator/></document><pk xsi:type="xsd:string">xtk:operator|1</pk>',
      );
      expect(anon).toContain('XSV-350008');
      expect(await operatorCount()).toBe(before);
      await stillServing();
    });
  });

  describe('xtk:session#GetModifiedEntities and the SDK cache refresh', () => {
    it('when the build number differs from the server one, then the client is told to empty its caches', async () => {
      const answer = await admin.NLWS.xtkSession.getModifiedEntities({
        buildNumber: '1',
        lastModified: new Date().toISOString(),
        'xtk:schema': { 'xmlns:xtk': 'urn:xtk:schema' },
      });
      expect(answer).toMatchObject({ buildNumber: '9400', emptyCache: 'true' });
    });

    it('when the parameters are bad or the caller anonymous, then a Campaign fault', async () => {
      const bad = await failure(
        admin.NLWS.xtkSession.getModifiedEntities({ buildNumber: '9400', lastModified: 'yesterday', 'xtk:schema': { 'xmlns:xtk': 'urn:xtk:schema' } }),
      );
      expect(bad).toMatchObject({ errorCode: 'SOP-330008' });
      const anon = await anonymous('xtk:session', 'GetModifiedEntities', '<cacheEntities xsi:type=""><cache/></cacheEntities>');
      expect(anon).toContain('XSV-350008');
      await stillServing();
    });

    it('when the client sends the md5 of the schema it holds, then nothing is sent again; with another md5, the schema', async () => {
      const schema = await admin.getEntityIfMoreRecent('xtk:schema', 'cus:gadget', 'SimpleJson');
      expect(schema.md5).toMatch(/^[0-9A-F]{32}$/);
      expect(await admin.NLWS.xtkSession.getEntityIfMoreRecent('xtk:schema|cus:gadget', schema.md5, false)).toBeNull();
      expect((await admin.NLWS.xtkSession.getEntityIfMoreRecent('xtk:schema|cus:gadget', '0'.repeat(32), false)).name).toBe('gadget');
    });

    it('when a schema changes while the SDK refreshes its caches, then it is reported as modified and the SDK downloads it again', async () => {
      const watcher = await logon('admin', 'admin');
      // While the gateway restarts, the SDK warns on each failed refresh (and carries on): expected here.
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      try {
        watcher.startRefreshCaches(200);
        expect((await watcher.getSchema('cus:gadget', 'SimpleJson')).label).toBe('Gadgets');
        expect((await watcher.getSchema('xtk:queryDef', 'SimpleJson')).name).toBe('queryDef');
        // The refresher has had its first answer (the server's time): from here on it asks what changed since.
        await waitFor('the first cache refresh', async () => watcher._entityCacheRefresher._lastTime !== undefined);
        const first = await admin.NLWS.xtkSession.getModifiedEntities({ 'xtk:schema': { 'xmlns:xtk': 'urn:xtk:schema' } });
        expect(first).toMatchObject({ buildNumber: '9400', time: expect.any(String) });

        // A new version of the schema, deployed by restarting the gateway on it.
        await platform.procs.get('api-gateway')!.stop();
        writeFileSync(join(schemaDir, 'cus-gadget.xml'), gadgetSchema('Gadgets v2'));
        await platform.replace('api-gateway');

        const since = await admin.NLWS.xtkSession.getModifiedEntities({
          buildNumber: first.buildNumber,
          lastModified: first.time,
          'xtk:schema': { 'xmlns:xtk': 'urn:xtk:schema' },
        });
        const pks = [since.entityCache ?? []].flat().map((e: { pk: string }) => e.pk);
        expect(pks).toEqual(['xtk:schema|cus:gadget']);
        expect([since.entityCache].flat()[0]).toMatchObject({ schema: 'xtk:schema', md5: expect.stringMatching(/^[0-9A-F]{32}$/) });
        expect(since.emptyCache).toBeUndefined();

        await waitFor('the SDK to download the changed schema again', async () => (await watcher.getSchema('cus:gadget', 'SimpleJson')).label === 'Gadgets v2');
        expect((await watcher.getSchema('cus:gadget', 'SimpleJson')).md5).toBe([since.entityCache].flat()[0].md5);
        // The unchanged schema stayed cached: it was not reported.
        expect(await watcher._entityCache.get('xtk:schema', 'xtk:queryDef')).toBeTruthy();
      } finally {
        watcher.stopRefreshCaches();
        warn.mockRestore();
      }
    });
  });
});

/** A raw SOAP call carrying `client`'s session: for URNs the SDK itself refuses to build (an unknown schema). */
async function withSession(url: string, client: SdkClient, urn: string, method: string, params: string): Promise<string> {
  const res = await fetch(`${url}/nl/jsp/soaprouter.jsp`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/soap+xml;charset=UTF-8',
      SoapAction: `${urn}#${method}`,
      'X-Security-Token': client._securityToken,
      'X-Session-Token': client._sessionToken,
      Cookie: `__sessiontoken=${client._sessionToken}`,
    },
    body:
      `<SOAP-ENV:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">` +
      `<SOAP-ENV:Body><m:${method} xmlns:m="urn:${urn}"><sessiontoken xsi:type="xsd:string">${client._sessionToken}</sessiontoken>${params}</m:${method}></SOAP-ENV:Body></SOAP-ENV:Envelope>`,
  });
  return res.text();
}
