/** The SOAP envelope opening the SDK sends, a Logon as admin/admin and an Ingest: shared by the benchmarks. */
export const ENVELOPE_OPEN =
  '<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns="http://xml.apache.org/xml-soap">';

export interface Tokens {
  session: string;
  security: string;
}

export async function logOn(url: string): Promise<Tokens> {
  const body =
    `${ENVELOPE_OPEN}<SOAP-ENV:Header><X-Security-Token></X-Security-Token></SOAP-ENV:Header><SOAP-ENV:Body><m:Logon xmlns:m="urn:xtk:session" SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">` +
    '<sessiontoken xsi:type="xsd:string"></sessiontoken><login xsi:type="xsd:string">admin</login><password xsi:type="xsd:string">admin</password></m:Logon></SOAP-ENV:Body></SOAP-ENV:Envelope>';
  const res = await fetch(`${url}/nl/jsp/soaprouter.jsp`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: 'xtk:session#Logon' },
    body,
  });
  const text = await res.text();
  const strings = [...text.matchAll(/xsi:type='xsd:string'>([^<]*)</g)].map((m) => m[1]!);
  if (!strings[0] || !strings[1]) throw new Error(`logon failed: ${text.slice(0, 300)}`);
  return { session: strings[0], security: strings[1] };
}

/** xtk:session#Ingest as the SDK sends it (DOMDocument parameter, literal XML). */
export function ingestCall(tokens: Tokens) {
  const body =
    `${ENVELOPE_OPEN}<SOAP-ENV:Header><Cookie>__sessiontoken=${tokens.session}</Cookie><X-Security-Token>${tokens.security}</X-Security-Token></SOAP-ENV:Header>` +
    '<SOAP-ENV:Body><m:Ingest xmlns:m="urn:xtk:session" SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">' +
    `<sessiontoken xsi:type="xsd:string">${tokens.session}</sessiontoken>` +
    '<domDoc xsi:type="" SOAP-ENV:encodingStyle="http://xml.apache.org/xml-soap/literalxml"><recipientStg xtkschema="nms:recipientStg" email="load@example.com" firstName="Load" lastName="Test"/></domDoc>' +
    '</m:Ingest></SOAP-ENV:Body></SOAP-ENV:Envelope>';
  return {
    headers: {
      'Content-Type': 'text/xml; charset=utf-8',
      SOAPAction: 'xtk:session#Ingest',
      'X-Security-Token': tokens.security,
      Cookie: `__sessiontoken=${tokens.session}`,
    },
    body,
  };
}
