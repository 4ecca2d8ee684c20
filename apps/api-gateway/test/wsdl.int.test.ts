import { parseXml } from '@cap/campaign-xml';
import { startTestPlatform, uniqueId, type TestPlatform } from '@cap/platform-testing';

// A third-party SOAP stack, driven only by the WSDL the gateway serves (docs/campaign-api.md#requests).
const { soap } = require('strong-soap') as {
  soap: { createClient(url: string, options: Record<string, unknown>, cb: (err: unknown, client: SoapClient) => void): void };
};

type Operation = (
  args: Record<string, unknown>,
  options?: Record<string, unknown>,
  extraHeaders?: Record<string, string>,
) => Promise<{ result: Record<string, unknown> }>;
interface SoapClient {
  [operation: string]: unknown;
  lastRequest?: string;
  lastRequestHeaders?: Record<string, string>;
}

const WSDL_PATH = '/nl/jsp/schemawsdl.jsp';
const ROUTER_PATH = '/nl/jsp/soaprouter.jsp';

function createSoapClient(wsdlUrl: string, endpoint: string | undefined): Promise<SoapClient> {
  return new Promise((resolve, reject) =>
    soap.createClient(wsdlUrl, endpoint ? { endpoint } : {}, (err, client) =>
      err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(client),
    ),
  );
}

function operation(client: SoapClient, name: string): Operation {
  const op = client[name];
  if (typeof op !== 'function') throw new Error(`the WSDL has no operation ${name}`);
  return op as Operation;
}

/**
 * A scalar out-value as strong-soap returns it: the codec types every output (`xsi:type='xsd:string'`), and
 * strong-soap hands back an element with attributes as `{ $attributes: { $xsiType }, $value }`.
 */
function scalar(value: unknown): string {
  if (value && typeof value === 'object' && '$value' in value) return String((value as { $value: unknown }).$value);
  return String(value);
}

/** The fault strong-soap raises for a SOAP-ENV:Fault answer (its message carries faultcode and faultstring). */
async function faultOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * The WSDL of a schema, consumed by strong-soap 5 against the real platform: the WSDL comes from the gateway
 * when main.ts mounts createWsdlRouter, otherwise from the same router in this process (then the operations
 * are pointed at the gateway's SOAP router with strong-soap's `endpoint` option). The calls always go to the
 * real gateway: what is checked is that what strong-soap sends from our WSDL is routed and answered.
 */
describe('the WSDL of a schema (/nl/jsp/schemawsdl.jsp), consumed by strong-soap', () => {
  let platform: TestPlatform;
  let gatewayUrl: string;
  let wsdlBase: string;
  const endpoint: string | undefined = undefined;
  let session: { sessionToken: string; securityToken: string };

  beforeAll(async () => {
    platform = await startTestPlatform();
    gatewayUrl = platform.gatewayUrl;
    wsdlBase = gatewayUrl;

    const client = await createSoapClient(`${wsdlBase}${WSDL_PATH}?schema=xtk:session`, endpoint);
    const { result } = await operation(client, 'Logon')({ sessiontoken: '', login: 'admin', password: 'admin', parameters: {} });
    session = { sessionToken: scalar(result['pstrSessionToken']), securityToken: scalar(result['pstrSecurityToken']) };
  });

  afterAll(async () => {
    await platform?.stop();
  });

  it('when xtk:queryDef is asked for, then a WSDL 1.1 document/literal with ExecuteQuery, its SOAPAction and the router address comes back', async () => {
    const res = await fetch(`${wsdlBase}${WSDL_PATH}?schema=xtk:queryDef`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
    const wsdl = parseXml(await res.text());
    expect(wsdl.local).toBe('definitions');
    expect(wsdl.attrs['targetNamespace']).toBe('urn:xtk:queryDef');
    const xml = JSON.stringify(wsdl);
    expect(xml).toContain('"soapAction":"xtk:queryDef#ExecuteQuery"');
    const address = /"location":"([^"]+)"/.exec(xml)?.[1];
    expect(address).toBe(`${wsdlBase}${ROUTER_PATH}`);
  });

  it('when the schema is unknown or the parameter is bad, then 404 or 400 in plain text', async () => {
    const unknown = await fetch(`${wsdlBase}${WSDL_PATH}?schema=cus:nothing`);
    expect([unknown.status, unknown.headers.get('content-type')]).toEqual([404, expect.stringMatching(/^text\/plain/)]);
    for (const query of ['', '?schema=', '?schema=nms', '?schema=nms:rtEvent&schema=xtk:session', '?schema=%3Cx%3E:y']) {
      expect((await fetch(`${wsdlBase}${WSDL_PATH}${query}`)).status).toBe(400);
    }
  });

  it('when strong-soap logs on through xtk:session, then the router accepted its quoted SOAPAction, prefixes and namespaces, and tokens came back', () => {
    expect(session.sessionToken).toMatch(/^___[0-9A-F-]{36}$/);
    expect(session.securityToken).toMatch(/^@/);
  });

  it('when strong-soap runs xtk:queryDef#ExecuteQuery with the session token as first parameter, then the result contains admin', async () => {
    const client = await createSoapClient(`${wsdlBase}${WSDL_PATH}?schema=xtk:queryDef`, endpoint);
    const entity = {
      queryDef: {
        $attributes: { schema: 'xtk:operator', operation: 'select' },
        select: { node: [{ $attributes: { expr: '@name' } }, { $attributes: { expr: '@id' } }] },
        where: { condition: { $attributes: { expr: "@name = 'admin'" } } },
      },
    };
    const { result } = await operation(client, 'ExecuteQuery')(
      { sessiontoken: session.sessionToken, entity },
      {},
      { 'X-Security-Token': session.securityToken },
    );
    expect(client.lastRequestHeaders?.['SOAPAction']).toBe('"xtk:queryDef#ExecuteQuery"');
    expect(result['pdomOutput']).toMatchObject({ 'operator-collection': { operator: { $attributes: { name: 'admin' } } } });
  });

  it('when the tokens travel in X-Session-Token / X-Security-Token with an empty sessiontoken, then ExecuteQuery works too; without them it faults XSV-350008', async () => {
    const client = await createSoapClient(`${wsdlBase}${WSDL_PATH}?schema=xtk:queryDef`, endpoint);
    const entity = {
      queryDef: { $attributes: { schema: 'xtk:operator', operation: 'count' }, where: { condition: { $attributes: { expr: "@name = 'admin'" } } } },
    };
    const headers = { 'X-Session-Token': session.sessionToken, 'X-Security-Token': session.securityToken };
    const { result } = await operation(client, 'ExecuteQuery')({ sessiontoken: '', entity }, {}, headers);
    expect(result['pdomOutput']).toMatchObject({ operator: { $attributes: { count: '1' } } });
    expect(await faultOf(operation(client, 'ExecuteQuery')({ sessiontoken: '', entity }))).toContain('XSV-350008');
  });

  it('when strong-soap calls a persist-interface method of xtk:session (xtk:persist|xtk:session#Write), then the record is written', async () => {
    const client = await createSoapClient(`${wsdlBase}${WSDL_PATH}?schema=xtk:session`, endpoint);
    const email = `${uniqueId('wsdl')}@example.com`;
    await operation(client, 'Write')(
      { sessiontoken: session.sessionToken, doc: { recipient: { $attributes: { xtkschema: 'nms:recipient', email, _operation: 'insert' } } } },
      {},
      { 'X-Security-Token': session.securityToken },
    );
    expect(client.lastRequestHeaders?.['SOAPAction']).toBe('"xtk:persist|xtk:session#Write"');
    const query = await createSoapClient(`${wsdlBase}${WSDL_PATH}?schema=xtk:queryDef`, endpoint);
    const entity = {
      queryDef: { $attributes: { schema: 'nms:recipient', operation: 'count' }, where: { condition: { $attributes: { expr: `@email = '${email}'` } } } },
    };
    const { result } = await operation(query, 'ExecuteQuery')(
      { sessiontoken: session.sessionToken, entity },
      {},
      { 'X-Security-Token': session.securityToken },
    );
    expect(result['pdomOutput']).toMatchObject({ recipient: { $attributes: { count: '1' } } });
  });

  it('when strong-soap pushes a real-time event (nms:rtEvent#PushEvent), then it gets a positive int64 id', async () => {
    const wsdl = await (await fetch(`${wsdlBase}${WSDL_PATH}?schema=nms:rtEvent`)).text();
    expect(wsdl).toContain('soapAction="nms:rtEvent#PushEvent"');
    expect(wsdl).toMatch(/<xsd:element name="plId" type="xsd:long"/);
    const client = await createSoapClient(`${wsdlBase}${WSDL_PATH}?schema=nms:rtEvent`, endpoint);
    const call = operation(
      client,
      'PushEvent',
    )({
      sessiontoken: 'mc/mc',
      domEvent: { rtEvent: { $attributes: { type: 'welcome', email: `${uniqueId('evt')}@example.com`, origin: 'wsdl-test' }, ctx: { firstName: 'Ann' } } },
    });
    expect(await faultOf(call)).toBeUndefined();
    const { result } = await call;
    // The exact id is on the wire; strong-soap maps xsd:long to a JS number, so ids above 2^53 (the cell number
    // sits in the high byte) come back rounded: callers needing the exact id read client.lastResponse.
    const wire = /<plId[^>]*>(\d+)<\/plId>/.exec(String(client['lastResponse']))?.[1];
    expect(wire).toMatch(/^[1-9]\d{0,18}$/);
    expect(BigInt(wire!)).toBeGreaterThan(0n);
    expect(Number(scalar(result['plId']))).toBe(Number(wire));
  });
});
