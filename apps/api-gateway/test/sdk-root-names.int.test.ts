import { failure, sdkLogon, startTestPlatform, uniqueId, type SdkClient, type TestPlatform } from '@cap/platform-testing';

// Adobe's own client, unmodified: the compatibility bar (docs/campaign-api.md).
const sdk = require('@adobe/acc-js-sdk');

/**
 * Where Campaign does not read the name of a document's root element, the SDK does not care to send a
 * meaningful one: a plain-object PushEvent on nms:batchEvent goes as <domEvent>, the queryDef of a
 * temp:group:… schema as <root>. These calls work; a root that names another schema is still refused.
 */
describe('document root names the SDK sends where Campaign ignores them', () => {
  let platform: TestPlatform;
  let admin: SdkClient;

  beforeAll(async () => {
    platform = await startTestPlatform();
    admin = await sdkLogon(platform.gatewayUrl, 'admin', 'admin');
  });

  afterAll(async () => {
    await platform?.stop();
  });

  // The id PushEvent returns carries the execution cell in its high byte; the low 56 bits are the event's @id.
  const eventOf = (schema: 'nms:batchEvent' | 'nms:rtEvent', id: string) =>
    admin.NLWS.xtkQueryDef
      .create({
        schema,
        operation: 'get',
        select: { node: [{ expr: '@type' }, { expr: '@email' }] },
        where: { condition: [{ expr: `@id = ${BigInt(id) & 0xffffffffffffffn}` }] },
      })
      .executeQuery();

  it('when a batch or real-time event is pushed as a plain object without xtkschema, then it is stored in its queue', async () => {
    const email = `${uniqueId('batch')}@example.com`;
    const batchId: string = await admin.NLWS.nmsBatchEvent.pushEvent({ wishedChannel: 0, type: 'welcome', email, ctx: { $firstName: 'Ann' } });
    expect(batchId).toMatch(/^\d+$/);
    expect(await eventOf('nms:batchEvent', batchId)).toMatchObject({ type: 'welcome', email });
    const rtEmail = `${uniqueId('rt')}@example.com`;
    const rtId: string = await admin.NLWS.nmsRtEvent.pushEvent({ type: 'welcome', email: rtEmail });
    expect(await eventOf('nms:rtEvent', rtId)).toMatchObject({ type: 'welcome', email: rtEmail });
    // Naming the queue's own schema is fine too.
    const named: string = await admin.NLWS.nmsBatchEvent.pushEvent({ xtkschema: 'nms:batchEvent', type: 'welcome', email });
    expect(await eventOf('nms:batchEvent', named)).toMatchObject({ email });
  });

  it('when an event names another schema in xtkschema, then it is refused with XTK-170101 and nothing is written there', async () => {
    const login = uniqueId('evil');
    const refused = await failure(admin.NLWS.nmsBatchEvent.pushEvent({ xtkschema: 'xtk:operator', name: login, type: 'welcome', email: 'e@example.com' }));
    expect(refused).toMatchObject({ errorCode: 'XTK-170101', faultString: expect.stringContaining("'xtk:operator'") });
    expect((await failure(admin.NLWS.nmsRtEvent.pushEvent({ xtkschema: 'nms:batchEvent', type: 'welcome', email: 'e@example.com' }))).errorCode).toBe(
      'XTK-170101',
    );
    const operators = await admin.NLWS.xtkQueryDef
      .create({ schema: 'xtk:operator', operation: 'count', where: { condition: [{ expr: `@name = '${login}'` }] } })
      .executeQuery();
    expect(operators).toEqual({ count: '0' });
  });

  it('when a queryDef document has another root name, as the SDK sends for temp:group schemas, then the query runs', async () => {
    const doc = sdk.DomUtil.parse(`<root schema="xtk:operator" operation="select"><select><node expr="@name"/></select></root>`).documentElement;
    const result = await admin.NLWS.xml.xtkQueryDef.create(doc).executeQuery();
    const names = Array.from(result.getElementsByTagName('operator') as ArrayLike<{ getAttribute(n: string): string }>).map((e) => e.getAttribute('name'));
    expect(names).toContain('admin');
    // getSchema('temp:group:<id>') reaches the query: a `get` of nms:group, which answers for a list that does not
    // exist as Campaign's get does (docs/standard-schemas.md has lists that exist).
    expect(await failure(admin.getSchema('temp:group:999999999'))).toMatchObject({
      errorCode: 'XSV-350122',
      faultString: expect.stringContaining('nms:group'),
    });
  });

  it('when a queryDef document claims another schema, then it is refused with SOP-330008', async () => {
    const res = await fetch(`${platform.gatewayUrl}/nl/jsp/soaprouter.jsp`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml', SOAPAction: 'xtk:queryDef#ExecuteQuery', 'X-Security-Token': admin._securityToken },
      body: `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><m:ExecuteQuery xmlns:m="urn:xtk:queryDef"><sessiontoken>${admin._sessionToken}</sessiontoken><entity><recipient xtkschema="nms:recipient" schema="xtk:operator" operation="select"><select><node expr="@name"/></select></recipient></entity></m:ExecuteQuery></SOAP-ENV:Body></SOAP-ENV:Envelope>`,
    });
    expect(await res.text()).toContain("SOP-330008 Invalid parameter 'document' of method 'ExecuteQuery': expected a &lt;queryDef&gt; document");
  });
});
