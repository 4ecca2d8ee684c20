import { parseSoapRequest, parseSoapRequestAsync, SoapFault } from './index';

// The SDK's own SOAP call object writes the envelopes: what real clients send.
const { SoapMethodCall } = require('@adobe/acc-js-sdk/src/soap.js') as {
  SoapMethodCall: new (...args: unknown[]) => {
    request: { data: string; headers: Record<string, string> };
    finalize(url: string): void;
    writeString(tag: string, value: string): void;
  };
};

function sdkEnvelope(urn: string, method: string, strings: [string, string][]): { body: string; soapAction: string } {
  const call = new SoapMethodCall(async () => '', urn, method, '___session', '@security', 'test', {}, {});
  for (const [name, value] of strings) call.writeString(name, value);
  call.finalize('http://gw/nl/jsp/soaprouter.jsp');
  return { body: call.request.data, soapAction: call.request.headers['SoapAction']! };
}

const ENVELOPE_OPEN = '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>';
const ENVELOPE_CLOSE = '</SOAP-ENV:Body></SOAP-ENV:Envelope>';

/** The fault a parse throws (fails the test when it parses). */
async function faultOf(parse: () => unknown): Promise<SoapFault> {
  try {
    await parse();
  } catch (err) {
    if (err instanceof SoapFault) return err;
    throw err;
  }
  throw new Error('expected a fault');
}

describe('parseSoapRequestAsync', () => {
  const writeCollection = `${ENVELOPE_OPEN}<m:WriteCollection xmlns:m="urn:xtk:persist|xtk:session"><sessiontoken>t</sessiontoken><doc><recipient-collection xtkschema="nms:recipient">${Array.from(
    { length: 5_000 },
    (_, i) => `<recipient email="r${i}@example.com" lastName="N${i}" _operation="insert"/>`,
  ).join('')}</recipient-collection></doc></m:WriteCollection>${ENVELOPE_CLOSE}`;

  it.each([
    [
      'an SDK Logon',
      sdkEnvelope('xtk:session', 'Logon', [
        ['login', 'admin'],
        ['password', 'p&<>"w'],
      ]),
    ],
    ['an SDK GetOption', sdkEnvelope('xtk:session', 'GetOption', [['name', 'XtkDatabaseId']])],
    ['a 400 KB WriteCollection routed by its body', { body: writeCollection, soapAction: '' }],
  ])('when %s is read, then the call is the one parseSoapRequest reads', async (_label, { body, soapAction }) => {
    const options = soapAction ? { soapAction } : {};
    expect(await parseSoapRequestAsync(body, options)).toEqual(parseSoapRequest(body, options));
  });

  it.each([
    [
      '700,000 attributes on the method element',
      `<m:Logon xmlns:m="urn:xtk:session"${Array.from({ length: 700_000 }, (_, i) => ` a${i}=""`).join('')}/>`,
      'maxAttributesPerElement',
    ],
    [
      '40 namespace declarations on the method element',
      `<m:Logon xmlns:m="urn:xtk:session"${Array.from({ length: 40 }, (_, i) => ` xmlns:p${i}="u"`).join('')}/>`,
      'maxNamespaceDeclarationsPerElement',
    ],
    ['190,000 parameters of two attributes', `<m:Logon xmlns:m="urn:xtk:session">${'<p a="" b=""/>'.repeat(190_000)}</m:Logon>`, 'maxNodes'],
  ])('when the body carries %s, then both parsers refuse it with a SOP-330001 client fault naming the limit', async (_label, method, limit) => {
    const body = `${ENVELOPE_OPEN}${method}${ENVELOPE_CLOSE}`;
    for (const fault of [await faultOf(() => parseSoapRequest(body)), await faultOf(() => parseSoapRequestAsync(body))]) {
      expect([fault.faultcode, fault.code]).toEqual(['SOAP-ENV:Client', 'SOP-330001']);
      expect(fault.faultstring).toContain(`(limit ${limit})`);
    }
  });

  it('when the caller sets a limit, then it applies', async () => {
    const { body, soapAction } = sdkEnvelope('xtk:session', 'GetOption', [['name', 'XtkDatabaseId']]);
    const fault = await faultOf(() => parseSoapRequestAsync(body, { soapAction, limits: { maxNodes: 5 } }));
    expect(fault.faultstring).toMatch(/^SOP-330001 Malformed SOAP request: .*more than 5 nodes \(limit maxNodes\)/);
  });

  it('when a body is larger than a parse slice, then other work queued on the event loop runs before the call is read', async () => {
    const order: string[] = [];
    setImmediate(() => order.push('other work'));
    await parseSoapRequestAsync(writeCollection).then(() => order.push('read'));
    expect(order).toEqual(['other work', 'read']);
  });
});
