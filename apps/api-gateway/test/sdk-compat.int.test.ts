import { SignJWT } from 'jose';
import type pg from 'pg';
import { failure, sdkLogon, sdkSessionLogon, startTestPlatform, withDb, type SdkClient, type TestPlatform } from '@cap/platform-testing';

// Adobe's own client, unmodified: the compatibility bar (docs/campaign-api.md).
const sdk = require('@adobe/acc-js-sdk');

const JWT_SECRET = 'test-secret-for-bearer-logon-0123456789';

describe('the unmodified @adobe/acc-js-sdk against the gateway', () => {
  let platform: TestPlatform;
  let url: string;
  let admin: SdkClient;

  const logon = (user: string, password: string) => sdkLogon(url, user, password);
  const localDb = <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => withDb(platform.localDb.url, fn);

  beforeAll(async () => {
    platform = await startTestPlatform({ envFor: { 'api-gateway': { JWT_SECRET } } });
    url = platform.gatewayUrl;
    admin = await logon('admin', 'admin');
  });

  afterAll(async () => {
    await platform?.stop();
  });

  describe('authentication and sessions', () => {
    it('when admin logs on, then the application describes the server and the operator with its rights', () => {
      expect(admin.application.operator.login).toBe('admin');
      expect(admin.application.operator.hasRight('admin')).toBe(true);
      expect(admin.application.version).toBe('8.7.0');
      expect(admin.application.buildNumber).toBe('9400');
      expect(admin.hasPackage('nms:core')).toBe(true);
    });

    it('when the password is wrong, then logon fails with XSV-350001', async () => {
      expect(await failure(logon('admin', 'nope'))).toMatchObject({ statusCode: 500, errorCode: 'XSV-350001' });
      expect(await failure(logon('ghost', 'admin'))).toMatchObject({ errorCode: 'XSV-350001' });
    });

    it('when a second client reuses the session and security tokens, then it works without logging on again', async () => {
      const reuse = await sdk.init(sdk.ConnectionParameters.ofSessionAndSecurityToken(url, admin._sessionToken, admin._securityToken));
      await reuse.logon();
      expect(await reuse.NLWS.xtkSession.getOption('XtkDatabaseId')).toEqual([expect.stringMatching(/^u[0-9A-F]{40}$/), 6]);
    });

    it('when a session logs off, then its tokens stop working everywhere with XSV-350008 (401)', async () => {
      const client = await logon('admin', 'admin');
      const tokens = [client._sessionToken, client._securityToken];
      await client.logoff();
      const stale = await sdk.init(sdk.ConnectionParameters.ofSessionAndSecurityToken(url, tokens[0], tokens[1]));
      await stale.logon();
      expect(await failure(stale.NLWS.xtkSession.getOption('XtkDatabaseId'))).toMatchObject({ statusCode: 401 });
    });

    it('when a Message Center operator uses a login/password session token, then calls work; when admin tries it, they are refused', async () => {
      const mc = await sdkSessionLogon(url, 'mc/mc');
      expect(await mc.NLWS.xtkSession.getOption('XtkDatabaseId')).toHaveLength(2);
      const notAllowed = await sdkSessionLogon(url, 'admin/admin');
      expect(await failure(notAllowed.NLWS.xtkSession.getOption('XtkDatabaseId'))).toMatchObject({ statusCode: 401 });
    });

    it('when a client presents a bearer JWT signed with the configured key, then BearerTokenLogon opens a session for its subject', async () => {
      const jwt = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('admin')
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(JWT_SECRET));
      const client = await sdk.init(sdk.ConnectionParameters.ofBearerToken(url, jwt));
      await client.logon();
      expect(client.application.operator.login).toBe('admin');
      const forged = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('admin')
        .sign(new TextEncoder().encode('another-secret-another-secret-xx'));
      const bad = await sdk.init(sdk.ConnectionParameters.ofBearerToken(url, forged));
      expect((await failure(bad.logon())).statusCode).toBe(401);
    });

    it('when nobody is logged on, then no data method answers (XSV-350008), while test() and ping() do', async () => {
      const schemaCall = await fetch(`${url}/nl/jsp/soaprouter.jsp`, {
        method: 'POST',
        headers: { 'content-type': 'text/xml', SOAPAction: 'xtk:persist#GetEntityIfMoreRecent' },
        body: '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><m:GetEntityIfMoreRecent xmlns:m="urn:xtk:persist"><sessiontoken/><pk>xtk:schema|nms:recipient</pk><md5/><mustExist>false</mustExist></m:GetEntityIfMoreRecent></SOAP-ENV:Body></SOAP-ENV:Envelope>',
      });
      expect(await schemaCall.text()).toContain('XSV-350008');
      const res = await fetch(`${url}/nl/jsp/soaprouter.jsp`, {
        method: 'POST',
        headers: { 'content-type': 'text/xml', SOAPAction: 'xtk:queryDef#ExecuteQuery' },
        body: '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><m:ExecuteQuery xmlns:m="urn:xtk:queryDef"><sessiontoken/><entity><queryDef schema="xtk:operator" operation="select"><select><node expr="@name"/></select></queryDef></entity></m:ExecuteQuery></SOAP-ENV:Body></SOAP-ENV:Envelope>',
      });
      expect(await res.text()).toContain('XSV-350008');
      expect(await admin.test()).toMatchObject({ status: 'OK', instance: 'cap' });
      expect(await admin.ping()).toMatchObject({ status: 'OK' });
    });
  });

  describe('schemas and options', () => {
    it('when the SDK downloads schemas and enumerations, then it builds them like Campaign ones', async () => {
      const schema = await admin.application.getSchema('nms:recipient');
      expect(schema.id).toBe('nms:recipient');
      expect(schema.root.children.get('@email').type).toBe('string');
      const gender = await admin.getSysEnum('nms:recipient:gender');
      expect(gender.value.map((v: { name: string }) => v.name)).toEqual(['unknown', 'male', 'female']);
      expect(await admin.getSchema('cus:doesNotExist')).toBeNull();
    });

    it("when the SDK walks a link's join, then joinNodes() finds the foreign key in the source and the key in the target", async () => {
      const recipient = await admin.application.getSchema('nms:recipient');
      const folder = await recipient.root.findNode('folder');
      expect(folder.isLink).toBe(true);
      const joins = (await folder.joinNodes()) as { source: { name: string; type: string }; destination: { name: string } }[];
      expect(joins.map((j) => [j.source.name, j.destination.name])).toEqual([['@folder-id', '@id']]);
      // A foreign key selects like any field.
      const rows = await admin.NLWS.xtkQueryDef
        .create({ queryDef: { schema: 'nms:recipient', operation: 'select', lineCount: 1, select: { node: [{ expr: '@folder-id' }] } } })
        .executeQuery();
      expect(rows).toBeDefined();
    });

    it('when an option is set then read, then the new value comes back; a non-admin may read but not set options', async () => {
      await admin.setOption('CapTestOption', 'first');
      await admin.setOption('CapTestOption', 'second');
      expect(await admin.getOption('CapTestOption', false)).toBe('second');
      const mc = await logon('mc', 'mc');
      expect(await mc.getOption('CapTestOption', false)).toBe('second');
      expect(await failure(mc.setOption('CapTestOption', 'mine'))).toMatchObject({ errorCode: 'XSV-350013' });
      expect(await admin.getOption('CapTestOption', false)).toBe('second');
    });

    it('when a logged-on operator asks for the data-model description, then HTML with the ER diagram, JSON and Mermaid come back; anonymous callers get 401', async () => {
      const headers = { 'X-Session-Token': admin._sessionToken, 'X-Security-Token': admin._securityToken };
      const html = await fetch(`${url}/nl/datamodel`, { headers });
      expect(html.status).toBe(200);
      const page = await html.text();
      expect(page).toContain('nms:recipient');
      expect(page).toContain('<svg');
      const json = (await (await fetch(`${url}/nl/datamodel.json`, { headers })).json()) as unknown;
      expect(JSON.stringify(json)).toContain('nms:recipientStg');
      expect(await (await fetch(`${url}/nl/datamodel.mmd`, { headers })).text()).toMatch(/^erDiagram/);
      expect((await fetch(`${url}/nl/datamodel`)).status).toBe(401);
    });

    it('when the server time and the user info are asked, then they come back typed', async () => {
      const time: Date = await admin.NLWS.xtkSession.getServerTime();
      expect(Math.abs(time.getTime() - Date.now())).toBeLessThan(60_000);
      const info = await admin.NLWS.xtkSession.getUserInfo();
      expect(info).toMatchObject({ login: 'admin' });
    });
  });

  describe('queries and writes', () => {
    it('when recipients are written with Write, WriteCollection and create().save(), then queries see them', async () => {
      const NLWS = admin.NLWS;
      await NLWS.xtkSession.write({ xtkschema: 'nms:recipient', email: 'ann@example.com', firstName: 'Ann', _operation: 'insert' });
      await NLWS.xtkSession.writeCollection({
        xtkschema: 'nms:recipient',
        recipient: [
          { email: 'bob@example.com', firstName: 'Bob', _operation: 'insert' },
          { email: 'cy@example.com', firstName: 'Cy', _operation: 'insert' },
        ],
      });
      await NLWS.nmsRecipient.create({ email: 'dee@example.com', lastName: 'Dee' }).save();
      const all = await NLWS.xtkQueryDef
        .create({
          schema: 'nms:recipient',
          operation: 'select',
          select: { node: [{ expr: '@email' }, { expr: '@firstName' }] },
          orderBy: { node: { expr: '@email' } },
        })
        .executeQuery();
      expect(all.recipient.map((r: { email: string }) => r.email)).toEqual(['ann@example.com', 'bob@example.com', 'cy@example.com', 'dee@example.com']);
      const page = await NLWS.xtkQueryDef
        .create({
          schema: 'nms:recipient',
          operation: 'select',
          lineCount: 2,
          startLine: 1,
          select: { node: { expr: '@email' } },
          orderBy: { node: { expr: '@email', sortDesc: true } },
        })
        .executeQuery();
      expect(page.recipient.map((r: { email: string }) => r.email)).toEqual(['cy@example.com', 'bob@example.com']);
    });

    it('when a record is updated by _key and deleted, then the query results follow, and update of a missing record changes nothing', async () => {
      const NLWS = admin.NLWS;
      await NLWS.xtkSession.write({ xtkschema: 'nms:recipient', _key: '@email', _operation: 'update', email: 'bob@example.com', lastName: 'Builder' });
      await NLWS.xtkSession.write({ xtkschema: 'nms:recipient', _key: '@email', _operation: 'update', email: 'nobody@example.com', lastName: 'X' });
      await NLWS.xtkSession.write({ xtkschema: 'nms:recipient', _key: '@email', _operation: 'delete', email: 'cy@example.com' });
      const bob = await NLWS.xtkQueryDef
        .create({
          schema: 'nms:recipient',
          operation: 'get',
          select: { node: [{ expr: '@email' }, { expr: '@lastName' }] },
          where: { condition: { expr: "@email = 'bob@example.com'" } },
        })
        .executeQuery();
      expect(bob).toEqual({ email: 'bob@example.com', lastName: 'Builder' });
      const count = await NLWS.xtkQueryDef
        .create({
          schema: 'nms:recipient',
          operation: 'count',
          where: { condition: [{ expr: "@email = 'cy@example.com'", boolOperator: 'OR' }, { expr: "@email = 'nobody@example.com'" }] },
        })
        .executeQuery();
      expect(count).toEqual({ count: '0' });
    });

    it('when DeleteCollection gets a where clause, then exactly the matching records go, and an empty where is refused', async () => {
      const NLWS = admin.NLWS;
      await NLWS.xtkSession.writeCollection({
        xtkschema: 'nms:recipient',
        recipient: [
          { email: 'gone1@del.example', _operation: 'insert' },
          { email: 'gone2@del.example', _operation: 'insert' },
          { email: 'stays@keep.example', _operation: 'insert' },
        ],
      });
      await NLWS.xtkSession.deleteCollection('nms:recipient', { condition: { expr: "@email LIKE '%@del.example'" } }, false);
      const left = await NLWS.xtkQueryDef
        .create({
          schema: 'nms:recipient',
          operation: 'select',
          select: { node: { expr: '@email' } },
          where: { condition: { expr: "@email LIKE '%example'" } },
        })
        .executeQuery();
      const emails = left.recipient.map((r: { email: string }) => r.email);
      expect(emails).toContain('stays@keep.example');
      expect(emails.filter((e: string) => e.endsWith('@del.example'))).toEqual([]);
      expect((await failure(NLWS.xtkSession.deleteCollection('nms:recipient', {}, false))).errorCode).toBe('XTK-170104');
    });

    it('when get finds nothing it faults, and getIfExists returns null', async () => {
      const NLWS = admin.NLWS;
      const q = { schema: 'nms:recipient', select: { node: { expr: '@email' } }, where: { condition: { expr: "@email = 'none@example.com'" } } };
      expect((await failure(NLWS.xtkQueryDef.create({ ...q, operation: 'get' }).executeQuery())).errorCode).toBe('XSV-350122');
      expect(await NLWS.xtkQueryDef.create({ ...q, operation: 'getIfExists' }).executeQuery()).toBeNull();
    });

    it('when the XML representation is used, then queries take and return DOM elements', async () => {
      const xml = admin.NLWS.xml;
      const queryDef = sdk.DomUtil.parse(
        '<queryDef schema="nms:recipient" operation="select"><select><node expr="@email"/></select><where><condition expr="@email LIKE \'ann%\'"/></where></queryDef>',
      );
      const result = await xml.xtkQueryDef.create(queryDef.documentElement).executeQuery();
      expect(result.nodeName).toBe('recipient-collection');
      expect(sdk.DomUtil.findElement(result, 'recipient').getAttribute('email')).toBe('ann@example.com');
    });

    it('when Ingest and IngestExt stage records, then rows land in the local staging table with their operations, and Ingest returns the new id', async () => {
      const NLWS = admin.NLWS;
      const uuid: string = await NLWS.xtkSession.ingest({ xtkschema: 'nms:recipientStg', email: 'staged@example.com', firstName: 'Stan' });
      expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
      expect(await NLWS.xtkSession.ingest({ xtkschema: 'nms:recipientStg', _key: '@id', id: 'ABC12345', email: 'keyed@example.com' })).toBe('');
      await NLWS.xtkSession.ingestExt({ xtkschema: 'nms:recipientStg', _key: '@email', email: 'staged@example.com', lastName: 'Staged' });
      await NLWS.xtkSession.ingestExt({ xtkschema: 'nms:recipientStg', _key: '@email', _operation: 'delete', email: 'keyed@example.com' });
      const rows = await localDb((c) => c.query('SELECT id, email, last_name, cap_op, cap_fields FROM nms_recipient_stg ORDER BY cap_seq'));
      expect(rows.rows.map((r) => [r.id, r.email, r.last_name, r.cap_op])).toEqual([
        [uuid, 'staged@example.com', null, 'upsert'],
        ['ABC12345', 'keyed@example.com', null, 'upsert'],
        [null, 'staged@example.com', 'Staged', 'upsert'],
        [null, 'keyed@example.com', null, 'delete'],
      ]);
      expect(rows.rows[2].cap_fields).toEqual(expect.arrayContaining(['email', 'last_name']));
    });

    it('when a write document is bad, then a clear fault names the problem and nothing is written', async () => {
      const NLWS = admin.NLWS;
      const bad = await failure(
        NLWS.xtkSession.writeCollection({
          xtkschema: 'nms:recipient',
          recipient: [
            { email: 'ok@example.com', _operation: 'insert' },
            { email: 'bad@example.com', shoeSize: '44', _operation: 'insert' },
          ],
        }),
      );
      expect(bad.errorCode).toBe('XTK-170102');
      expect(bad.faultString).toContain('@shoeSize');
      const count = await NLWS.xtkQueryDef
        .create({ schema: 'nms:recipient', operation: 'count', where: { condition: { expr: "@email = 'ok@example.com'" } } })
        .executeQuery();
      expect(count).toEqual({ count: '0' });
      expect((await failure(NLWS.xtkSession.ingest({ xtkschema: 'nms:recipient', email: 'x@example.com' }))).errorCode).toBe('XTK-170106');
      expect((await failure(NLWS.xtkQueryDef.create({ schema: 'nms:recipient', select: { node: { expr: 'pg_sleep(1)' } } }).executeQuery())).errorCode).toBe(
        'XTK-170036',
      );
    });
  });

  describe('message center', () => {
    it('when a Message Center client pushes events, then the id carries the cell, its low 56 bits find the event, and mcPing counts it', async () => {
      const mc = await sdkSessionLogon(url, 'mc/mc');
      const before = await admin.mcPing();
      // Scheduled for later: the message center keeps it pending until then (otherwise it is processed at once).
      const id: string = await mc.NLWS.nmsRtEvent.pushEvent({
        wishedChannel: 0,
        type: 'welcome',
        email: 'alex@example.com',
        scheduled: '2099-01-01T00:00:00Z',
        ctx: { firstName: 'Alex' },
      });
      // The SDK reads the int64 as text: the whole id, beyond 2^53, with the cell (EVENT_CELL_ID) in its high byte.
      expect(typeof id).toBe('string');
      expect(BigInt(id) >> 56n).toBe(1n);
      expect(BigInt(id)).toBeGreaterThan(BigInt(Number.MAX_SAFE_INTEGER));
      // Adobe's SDK documentation (docs/messageCenter.html): clear the high byte, then query @id.
      const eventId = Number(BigInt(id) & BigInt('0xFFFFFFFFFFFFFF'));
      expect(Number.isSafeInteger(eventId)).toBe(true);
      const query = (expr: string) =>
        admin.NLWS.xtkQueryDef
          .create({
            schema: 'nms:rtEvent',
            operation: 'getIfExists',
            select: { node: [{ expr: '@id' }, { expr: '@type' }, { expr: '@email' }, { expr: '@status' }, { expr: 'ctx' }] },
            where: { condition: { expr } },
          })
          .executeQuery();
      const event = await query(`@id=${eventId}`);
      expect(event).toMatchObject({ id: String(eventId), type: 'welcome', email: 'alex@example.com', status: '0' });
      expect(event.$ctx).toContain('firstName="Alex"');
      // As in Campaign, the returned id itself is not the primary key.
      expect(await query(`@id=${id}`)).toBeNull();
      const many: { rtEvent: { id: string }[] } = await mc.NLWS.nmsRtEvent.pushEvents({
        rtEvent: [1, 2].map((n) => ({ type: 'welcome', email: `many${n}@example.com`, scheduled: '2099-01-01T00:00:00Z', ctx: {} })),
      });
      for (const e of many.rtEvent) {
        expect(BigInt(e.id) >> 56n).toBe(1n);
        expect(await query(`@id=${BigInt(e.id) & 0xffffffffffffffn}`)).toMatchObject({ email: expect.stringMatching(/^many\d@example\.com$/) });
      }
      const after = await admin.mcPing();
      expect(after.status).toBe('Ok');
      expect(Number(after.eventQueueSize)).toBe(Number(before.eventQueueSize) + 3);
    });

    it('when a Message Center client lists the event types, then the seeded ones come back through xtk:enumValue', async () => {
      const mc = await sdkSessionLogon(url, 'mc/mc');
      const types = await mc.NLWS.xtkQueryDef
        .create({
          schema: 'xtk:enumValue',
          operation: 'select',
          select: { node: [{ expr: '@id' }, { expr: '@name' }, { expr: '@label' }] },
          where: { condition: { expr: "[enum/@name]='eventType'" } },
        })
        .executeQuery();
      expect(types.enumValue.map((v: { name: string }) => v.name)).toContain('welcome');
    });

    it('when an event has no type or no address, then the fault says so and nothing is queued', async () => {
      const mc = await sdkSessionLogon(url, 'mc/mc');
      const before = Number((await admin.mcPing()).eventQueueSize);
      expect((await failure(mc.NLWS.nmsRtEvent.pushEvent({ email: 'x@example.com' }))).faultString).toContain('@type');
      expect((await failure(mc.NLWS.nmsRtEvent.pushEvent({ type: 'welcome' }))).faultString).toContain('address');
      expect(Number((await admin.mcPing()).eventQueueSize)).toBe(before);
    });
  });

  describe('hostile and malformed requests', () => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${url}/nl/jsp/soaprouter.jsp`, { method: 'POST', headers: { 'content-type': 'text/xml', ...headers }, body });

    it.each([
      ['not XML', 'hello <'],
      [
        'a billion-laughs DTD',
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>&lol2;</SOAP-ENV:Body></SOAP-ENV:Envelope>',
      ],
      ['an external entity', '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>'],
      [
        'deep nesting',
        `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>${'<a>'.repeat(5000)}${'</a>'.repeat(5000)}</SOAP-ENV:Body></SOAP-ENV:Envelope>`,
      ],
    ])('when the body is %s, then the answer is a SOAP fault with HTTP 200 and nothing leaks', async (_label, body) => {
      const res = await post(body);
      const text = await res.text();
      expect(res.status).toBe(200);
      expect(text).toContain('<SOAP-ENV:Fault>');
      expect(text).toContain('SOP-330001');
      expect(text).not.toContain('root:');
    });

    it('when the method does not exist, then the fault is SOP-330006', async () => {
      const res = await post(
        '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><m:Explode xmlns:m="urn:xtk:session"><sessiontoken/></m:Explode></SOAP-ENV:Body></SOAP-ENV:Envelope>',
      );
      expect(await res.text()).toContain('SOP-330006');
    });

    it('when the body is over the size limit, then the answer is 413', async () => {
      const res = await post(`<x>${'a'.repeat(9 * 1024 * 1024)}</x>`);
      expect(res.status).toBe(413);
    });

    it('when a SOAP 1.1 client with another prefix, a quoted SOAPAction and positional names logs on, then it gets tokens', async () => {
      const res = await post(
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:xtk:session"><soapenv:Body><urn:Logon><urn:sessiontoken/><urn:strLogin>admin</urn:strLogin><urn:strPassword>admin</urn:strPassword><urn:elemParameters/></urn:Logon></soapenv:Body></soapenv:Envelope>',
        { SOAPAction: '"xtk:session#Logon"' },
      );
      const text = await res.text();
      expect(text).toMatch(/<pstrSessionToken xsi:type='xsd:string'>___[0-9A-F-]{36}<\/pstrSessionToken>/);
    });
  });
});
