import { createServer, request, type Server } from 'node:http';
import express from 'express';
import { loadSchemaRegistry, SOURCE_BUILTIN_SCHEMA_DIR } from '@cap/campaign-files';
import { buildSoapResponse, decodeParams, parseSoapRequest, type DecodedCall } from '@cap/campaign-soap';
import { createWsdlRouter } from './wsdl.route';

const { soap } = require('strong-soap') as {
  soap: { createClient(url: string, options: Record<string, unknown>, cb: (err: unknown, client: Record<string, unknown>) => void): void };
};

const schemas = loadSchemaRegistry({ builtinDir: SOURCE_BUILTIN_SCHEMA_DIR });

interface Answer {
  status: number;
  type: string | undefined;
  body: string;
}

/** GET with a chosen Host header (fetch does not let a caller set it). */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const location = (wsdl: string) => /<soap:address location="([^"]*)"/.exec(wsdl)?.[1];

describe('createWsdlRouter', () => {
  let server: Server;
  let port: number;
  const decoded: { method: string; call: DecodedCall }[] = [];

  beforeAll(async () => {
    const app = express();
    app.use(createWsdlRouter({ schemas }));
    // A stand-in SOAP router built from the gateway's codec: what strong-soap sends is decoded as the real
    // router decodes it (SOAPAction, positional parameters), and answered with the codec's response.
    app.post('/nl/jsp/soaprouter.jsp', express.text({ type: () => true }), (req, res) => {
      const call = parseSoapRequest(String(req.body), { soapAction: req.get('SOAPAction') });
      const schema = schemas.get(call.schemaId)!;
      const method = call.interfaceName
        ? schemas.get('xtk:session')!.methods.find((m) => m.interface === call.interfaceName && m.name === call.method)!
        : schema.methods.find((m) => m.name === call.method && !m.interface)!;
      decoded.push({ method: `${call.urn}#${call.method}`, call: decodeParams(call, method) });
      const outputs = method.params
        .filter((p) => p.inout !== 'in')
        .map((param) => ({ param, value: param.type === 'string' ? `out-${param.name}` : undefined }));
      res.type('text/xml').send(buildSoapResponse({ urn: call.urn, method: call.method, outputs }));
    });
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('when a known schema is asked for, then its WSDL comes back as XML, addressed to the router at the Host of the request', async () => {
    const res = await get(port, '/nl/jsp/schemawsdl.jsp?schema=nms:rtEvent', { Host: 'campaign.example.com:8443' });
    expect([res.status, res.type]).toEqual([200, 'text/xml; charset=utf-8']);
    expect(location(res.body)).toBe('http://campaign.example.com:8443/nl/jsp/soaprouter.jsp');
    expect(res.body).toContain('soapAction="nms:rtEvent#PushEvent"');
    expect(location((await get(port, '/nl/jsp/schemawsdl.jsp?schema=nms:rtEvent', { Host: '[::1]:8080' })).body)).toBe(
      'http://[::1]:8080/nl/jsp/soaprouter.jsp',
    );
  });

  it('when X-Forwarded-Host comes from a proxy the app does not trust, then the Host header still decides the address', async () => {
    const res = await get(port, '/nl/jsp/schemawsdl.jsp?schema=xtk:session', { Host: 'gw.example', 'X-Forwarded-Host': 'evil.example' });
    expect(location(res.body)).toBe('http://gw.example/nl/jsp/soaprouter.jsp');
  });

  it('when the schema is unknown, then 404 in plain text', async () => {
    const res = await get(port, '/nl/jsp/schemawsdl.jsp?schema=cus:nothing');
    expect([res.status, res.type]).toEqual([404, 'text/plain; charset=utf-8']);
    expect(res.body).toContain("Unknown schema 'cus:nothing'");
  });

  it.each([
    ['no parameter', ''],
    ['an empty one', '?schema='],
    ['no namespace', '?schema=rtEvent'],
    ['markup', '?schema=%3Cscript%3E:x'],
    ['two values', '?schema=nms:rtEvent&schema=xtk:session'],
    ['a bracketed one', '?schema[a]=nms:rtEvent'],
  ])('when the schema parameter is bad (%s), then 400 in plain text', async (_label, query) => {
    const res = await get(port, `/nl/jsp/schemawsdl.jsp${query}`);
    expect([res.status, res.type]).toEqual([400, 'text/plain; charset=utf-8']);
    expect(res.body).not.toContain('<');
  });

  it('when the Host header could break the address, then 400', async () => {
    for (const host of ['a"b', 'h/x', 'h:port']) {
      expect((await get(port, '/nl/jsp/schemawsdl.jsp?schema=xtk:session', { Host: host })).status).toBe(400);
    }
  });

  it('when strong-soap builds calls from the WSDL, then the codec decodes them positionally and strong-soap reads the answer', async () => {
    const client = await new Promise<Record<string, unknown>>((resolve, reject) =>
      soap.createClient(`http://127.0.0.1:${port}/nl/jsp/schemawsdl.jsp?schema=xtk:session`, {}, (err, c) => (err ? reject(err as Error) : resolve(c))),
    );
    type Op = (args: Record<string, unknown>) => Promise<{ result: Record<string, { $value?: unknown } | undefined> }>;
    const { result } = await (client['Logon'] as Op)({
      sessiontoken: '',
      login: 'ann',
      password: 'secret',
      parameters: { parameters: { $attributes: { rememberMe: 'true' } } },
    });
    expect(result['pstrSessionToken']?.$value).toBe('out-sessionToken');
    expect(result['pstrSecurityToken']?.$value).toBe('out-securityToken');
    const logon = decoded.at(-1)!;
    expect(logon.method).toBe('xtk:session#Logon');
    expect(logon.call.values.get('login')).toBe('ann');
    expect(logon.call.values.get('password')).toBe('secret');
    expect(logon.call.values.get('parameters')).toMatchObject({ local: 'parameters', attrs: { rememberMe: 'true' } });

    await (client['GetEntityIfMoreRecent'] as Op)({ sessiontoken: '___t', pk: 'xtk:schema|nms:recipient', md5: '', mustExist: false });
    const persist = decoded.at(-1)!;
    expect(persist.method).toBe('xtk:persist|xtk:session#GetEntityIfMoreRecent');
    expect(persist.call.sessionToken).toBe('___t');
    expect(persist.call.values.get('pk')).toBe('xtk:schema|nms:recipient');
    expect(persist.call.values.get('mustExist')).toBe(false);
  });
});
