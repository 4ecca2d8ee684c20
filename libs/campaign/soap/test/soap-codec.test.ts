import { element, serializeXml } from '@cap/campaign-xml';
import type { Method } from '@cap/campaign-schema';
import { buildSoapFault, buildSoapResponse, decodeParams, parseSoapRequest, rawXml, SoapFault, SOAP_FAULTS } from '../src/index';

// The SDK's own SOAP call object, fed our responses through a fake transport: if it reads them, the real
// client will (docs/campaign-api.md#client-wire-rules). It also writes the requests we must parse.
const { SoapMethodCall } = require('@adobe/acc-js-sdk/src/soap.js') as { SoapMethodCall: new (...args: unknown[]) => SdkCall };

interface SdkCall {
  request: { data: string; headers: Record<string, string>; url: string };
  finalize(url: string): void;
  execute(): Promise<void>;
  writeString(tag: string, value: string): void;
  writeBoolean(tag: string, value: boolean): void;
  writeElement(tag: string, el: unknown): void;
  createElement(tag: string): { setAttribute(n: string, v: string): void };
  getNextString(): string;
  getNextLong(): number;
  getNextByte(): number;
  getNextBoolean(): boolean;
  getNextDateTime(): Date;
  getNextElement(): { nodeName: string; getAttribute(n: string): string };
  getNextDocument(): { nodeName: string } | null;
}

function sdkCall(urn: string, method: string, response: string): SdkCall {
  const call = new SoapMethodCall(async () => response, urn, method, '___session', '@security', 'test', {}, {});
  call.finalize('http://gw/nl/jsp/soaprouter.jsp');
  return call;
}

const logon: Method = {
  name: 'Logon',
  static: true,
  const: false,
  params: [
    { name: 'login', type: 'string', inout: 'in' },
    { name: 'password', type: 'string', inout: 'in' },
    { name: 'parameters', type: 'DOMElement', inout: 'in' },
    { name: 'sessionToken', type: 'string', inout: 'out' },
    { name: 'sessionInfo', type: 'DOMElement', inout: 'out' },
    { name: 'securityToken', type: 'string', inout: 'out' },
  ],
};

describe('SOAP requests', () => {
  it('when the SDK writes a Logon, then it is routed by SOAPAction and its parameters decode by position', () => {
    const call = sdkCall('xtk:session', 'Logon', '');
    call.writeString('login', 'admin');
    call.writeString('password', 'p&ss<word>');
    const params = call.createElement('parameters');
    params.setAttribute('rememberMe', 'true');
    call.writeElement('parameters', params);
    call.finalize('http://gw/nl/jsp/soaprouter.jsp');
    const parsed = parseSoapRequest(call.request.data, { soapAction: call.request.headers['SoapAction'] });
    expect([parsed.urn, parsed.schemaId, parsed.method]).toEqual(['xtk:session', 'xtk:session', 'Logon']);
    expect(parsed.header).toEqual({ sessionToken: '___session', securityToken: '@security' });
    const decoded = decodeParams(parsed, logon);
    expect(decoded.sessionToken).toBe('___session');
    expect(decoded.values.get('login')).toBe('admin');
    expect(decoded.values.get('password')).toBe('p&ss<word>');
    expect((decoded.values.get('parameters') as { attrs: Record<string, string> }).attrs['rememberMe']).toBe('true');
  });

  it('when the client uses other parameter names, another prefix and no SOAPAction, then the body routes the call', () => {
    const body = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:xtk:session"><soapenv:Header/><soapenv:Body>
      <urn:Logon><urn:__sessiontoken/><urn:strLogin>admin</urn:strLogin><urn:strPassword>x</urn:strPassword><urn:elemParameters/></urn:Logon></soapenv:Body></soapenv:Envelope>`;
    const parsed = parseSoapRequest(body);
    expect([parsed.urn, parsed.method]).toEqual(['xtk:session', 'Logon']);
    expect(decodeParams(parsed, logon).values.get('login')).toBe('admin');
  });

  it('when the SOAPAction is quoted and names an interface on a schema, then both are understood', () => {
    const call = sdkCall('xtk:persist|xtk:session', 'Write', '');
    const parsed = parseSoapRequest(call.request.data, { soapAction: '"xtk:persist|xtk:session#Write"' });
    expect([parsed.urn, parsed.schemaId, parsed.interfaceName, parsed.method]).toEqual(['xtk:persist|xtk:session', 'xtk:session', 'persist', 'Write']);
  });

  it.each([
    ['not XML', 'hello'],
    ['a DOCTYPE', '<!DOCTYPE x [<!ENTITY a "b">]><x/>'],
    ['not an envelope', '<Envelope/>'],
    ['an empty body', '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body/></SOAP-ENV:Envelope>'],
    [
      'a body method with no namespace and no SOAPAction',
      '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><Logon/></SOAP-ENV:Body></SOAP-ENV:Envelope>',
    ],
  ])('when the request is %s, then it is a Client fault', (_label, body) => {
    let fault: unknown;
    try {
      parseSoapRequest(body);
    } catch (err) {
      fault = err;
    }
    expect(fault).toBeInstanceOf(SoapFault);
    expect((fault as SoapFault).faultcode).toBe('SOAP-ENV:Client');
  });

  it('when a typed parameter has the wrong value, then the fault names the parameter', () => {
    const method: Method = { name: 'M', static: true, const: false, params: [{ name: 'complete', type: 'boolean', inout: 'in' }] };
    const parsed = parseSoapRequest(
      '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><m:M xmlns:m="urn:x:y"><t/><c>maybe</c></m:M></SOAP-ENV:Body></SOAP-ENV:Envelope>',
    );
    expect(() => decodeParams(parsed, method)).toThrow(/SOP-330008 Invalid parameter 'complete' of method 'M'/);
  });
});

describe('SOAP responses read by the SDK', () => {
  it('when a Logon answers, then the SDK reads the token, the session info element and the security token in order', async () => {
    const info = element('sessionInfo', {}, [element('serverInfo', { buildNumber: '1' }), element('userInfo', { login: 'admin' })]);
    const xml = buildSoapResponse({
      urn: 'xtk:session',
      method: 'Logon',
      outputs: [
        { param: logon.params[3]!, value: '___tok' },
        { param: logon.params[4]!, value: info },
        { param: logon.params[5]!, value: '@sec' },
      ],
    });
    const call = sdkCall('xtk:session', 'Logon', xml);
    await call.execute();
    expect(call.getNextString()).toBe('___tok');
    expect(call.getNextElement().nodeName).toBe('sessionInfo');
    expect(call.getNextString()).toBe('@sec');
  });

  it('when scalar outputs of every type answer, then the SDK accepts their xsi:types', async () => {
    const when = new Date('2024-01-02T03:04:05.678Z');
    const xml = buildSoapResponse({
      urn: 'xtk:session',
      method: 'GetOption',
      outputs: [
        { param: { name: 'value', type: 'string', inout: 'out' }, value: 'a&b<c>' },
        { param: { name: 'type', type: 'byte', inout: 'out' }, value: 6 },
        { param: { name: 'n', type: 'long', inout: 'out' }, value: 42 },
        { param: { name: 'b', type: 'boolean', inout: 'out' }, value: true },
        { param: { name: 't', type: 'datetime', inout: 'out' }, value: when },
      ],
    });
    const call = sdkCall('xtk:session', 'GetOption', xml);
    await call.execute();
    expect([call.getNextString(), call.getNextByte(), call.getNextLong(), call.getNextBoolean(), call.getNextDateTime().toISOString()]).toEqual([
      'a&b<c>',
      6,
      42,
      true,
      when.toISOString(),
    ]);
  });

  it('when a query result document answers, then the SDK reads it as the DOMDocument output', async () => {
    const xml = buildSoapResponse({
      urn: 'xtk:queryDef',
      method: 'ExecuteQuery',
      outputs: [
        {
          param: { name: 'output', type: 'DOMDocument', inout: 'out' },
          value: element('recipient-collection', {}, [element('recipient', { email: 'a@x.com' })]),
        },
      ],
    });
    const call = sdkCall('xtk:queryDef', 'ExecuteQuery', xml);
    await call.execute();
    expect(call.getNextDocument()!.nodeName).toBe('recipient-collection');
  });

  it('when a query result arrives already serialised (rawXml), then the response is the same as with the element tree', () => {
    const param = { name: 'output', type: 'DOMDocument', inout: 'out' } as const;
    const doc = element('recipient-collection', {}, [element('recipient', { email: 'a&b@x.com' })]);
    const response = (value: Parameters<typeof buildSoapResponse>[0]['outputs'][number]['value']) =>
      buildSoapResponse({ urn: 'xtk:queryDef', method: 'ExecuteQuery', outputs: [{ param, value }] });
    expect(response(rawXml(serializeXml(doc)))).toBe(response(doc));
  });

  it('when a fault answers, then the SDK raises a CampaignException with our code and fault code', async () => {
    const call = sdkCall('xtk:session', 'Logon', buildSoapFault(new SoapFault('SOAP-ENV:Client', 'XSV-350001', 'Invalid login or password.', 'detail & more')));
    await expect(call.execute()).rejects.toMatchObject({
      statusCode: 500,
      errorCode: 'XSV-350001',
      faultCode: 'SOAP-ENV:Client',
      faultString: 'Invalid login or password.',
    });
  });

  it('when a session fault answers, then the SDK sees an expired session (401)', async () => {
    const call = sdkCall('xtk:session', 'GetOption', buildSoapFault(new SoapFault('SOAP-ENV:Client', 'XSV-350008', 'Session has expired or is invalid.')));
    await expect(call.execute()).rejects.toMatchObject({ statusCode: 401 });
  });

  it('when the unknown-method fault answers, then its code is SOP-330006', async () => {
    const call = sdkCall('xtk:session', 'Nope', buildSoapFault(SOAP_FAULTS.unknownMethod('xtk:session', 'Nope')));
    await expect(call.execute()).rejects.toMatchObject({ errorCode: 'SOP-330006' });
    expect(serializeXml(element('x'))).toBe('<x/>');
  });
});
