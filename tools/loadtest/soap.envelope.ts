/**
 * SOAP requests exactly as @adobe/acc-js-sdk writes them (docs/campaign-api.md#requests), and the two
 * things the load test reads from answers: the tokens of a Logon, and the fault code of a SOAP fault.
 * Plain string work: the tool must stay cheap per request, and must not depend on the server's libraries.
 */

export const SOAP_ROUTER_PATH = '/nl/jsp/soaprouter.jsp';

export interface SessionTokens {
  sessionToken: string;
  securityToken: string;
}

const LITERAL_XML = 'SOAP-ENV:encodingStyle="http://xml.apache.org/xml-soap/literalxml"';

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_m, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&amp;/g, '&');
}

/** A string in-parameter (`xsd:string`). */
export function stringParam(name: string, value: string): string {
  return `<${name} xsi:type="xsd:string">${escapeXml(value)}</${name}>`;
}

/** A DOMDocument in-parameter (`xsi:type=""`, literal XML), holding one element. */
export function documentParam(name: string, elementXml: string): string {
  return `<${name} xsi:type="" ${LITERAL_XML}>${elementXml}</${name}>`;
}

/** A DOMElement in-parameter (`xsi:type="ns:Element"`, literal XML). */
export function elementParam(name: string, elementXml: string): string {
  return `<${name} xsi:type="ns:Element" ${LITERAL_XML}>${elementXml}</${name}>`;
}

/**
 * The envelope of one call: SOAP header with the session cookie (only when there is a session) and the
 * security token (always, maybe empty); the session token as the first parameter (always, maybe empty).
 */
export function buildEnvelope(urn: string, method: string, params: string, tokens?: SessionTokens): string {
  const session = tokens?.sessionToken ?? '';
  const security = tokens?.securityToken ?? '';
  return (
    '<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"' +
    ' xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns="http://xml.apache.org/xml-soap">' +
    '<SOAP-ENV:Header>' +
    (session ? `<Cookie>__sessiontoken=${escapeXml(session)}</Cookie>` : '') +
    `<X-Security-Token>${escapeXml(security)}</X-Security-Token>` +
    '</SOAP-ENV:Header><SOAP-ENV:Body>' +
    `<m:${method} xmlns:m="urn:${urn}" SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">` +
    stringParam('sessiontoken', session) +
    params +
    `</m:${method}></SOAP-ENV:Body></SOAP-ENV:Envelope>`
  );
}

/** HTTP headers of one call, as the SDK sends them (tokens in headers and cookie, SOAPAction unquoted). */
export function buildHeaders(soapAction: string, tokens?: SessionTokens): Record<string, string> {
  return {
    'Content-Type': 'text/xml; charset=utf-8',
    SOAPAction: soapAction,
    'X-Security-Token': tokens?.securityToken ?? '',
    'X-Session-Token': tokens?.sessionToken ?? '',
    ...(tokens?.sessionToken ? { Cookie: `__sessiontoken=${tokens.sessionToken}` } : {}),
  };
}

/** Path and query of one call: the router, with `?soapAction=` as the SDK adds it. */
export function routerPath(basePath: string, soapAction: string): string {
  return `${basePath}${SOAP_ROUTER_PATH}?soapAction=${encodeURIComponent(soapAction)}`;
}

/** xtk:session#Logon with login and password (no session yet). */
export function logonEnvelope(login: string, password: string): string {
  return buildEnvelope('xtk:session', 'Logon', stringParam('login', login) + stringParam('password', password) + elementParam('parameters', '<parameters/>'));
}

export interface SoapFaultInfo {
  /** The Campaign code at the start of faultstring (`XSV-350008`), else the first such code in it, else `(no code)`. */
  code: string;
  faultstring: string;
}

/** Campaign codes (`XSV-350008`) and platform codes (`CAP-100001`) at the start of faultstring. */
const LEADING_CODE = /^([A-Z]{2,}(?:-[A-Z]{2,})*-\d{3,})(?![\w-])/;
/** What the SDK reads into errorCode: the first Campaign code anywhere in faultstring. */
const ANY_CAMPAIGN_CODE = /[A-Z]{2,4}-\d{6}/;

/** The fault of a SOAP answer, if the first element of its Body is `SOAP-ENV:Fault`; undefined otherwise. */
export function findSoapFault(body: string): SoapFaultInfo | undefined {
  const at = body.indexOf('<SOAP-ENV:Fault');
  if (at < 0) return undefined;
  const m = /<faultstring[^>]*>([^<]*)<\/faultstring>/.exec(body.slice(at));
  const faultstring = m ? unescapeXml(m[1] ?? '').trim() : '';
  const code = LEADING_CODE.exec(faultstring)?.[1] ?? ANY_CAMPAIGN_CODE.exec(faultstring)?.[0] ?? '(no code)';
  return { code, faultstring };
}

/** Could not log on: the message says why (fault code and text, HTTP status, or the connection error). */
export class LogonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LogonError';
  }
}

/**
 * The session and security tokens of a Logon answer. The out-parameters are read positionally by type, as
 * the SDK does: the first `xsd:string` is the session token, the second the security token.
 */
export function parseLogonResponse(status: number, body: string): SessionTokens {
  const fault = findSoapFault(body);
  if (fault) throw new LogonError(`Logon answered a SOAP fault: ${fault.faultstring || fault.code}`);
  if (status < 200 || status > 299) throw new LogonError(`Logon answered HTTP ${status}: ${body.slice(0, 200).trim()}`);
  const response = /<(?:\w+:)?LogonResponse[\s>][\s\S]*<\/(?:\w+:)?LogonResponse>/.exec(body)?.[0];
  if (!response) throw new LogonError('Logon answer has no LogonResponse element: is the URL a Campaign SOAP router?');
  const strings = [...response.matchAll(/<([\w:-]+)\s[^>]*xsi:type=["']xsd:string["'][^>]*>([^<]*)<\/\1>/g)].map((m) => unescapeXml(m[2] ?? ''));
  const [sessionToken, securityToken] = strings;
  if (!sessionToken) throw new LogonError('Logon answer carries no session token');
  return { sessionToken, securityToken: securityToken ?? '' };
}
