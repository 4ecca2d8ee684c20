import { parseXml, parseXmlAsync, XmlParseError, type XmlElement, type XmlLimits } from '@cap/campaign-xml';
import { SOAP_FAULTS } from './soap.fault';

const SOAP_ENV_11 = 'http://schemas.xmlsoap.org/soap/envelope/';
const SOAP_ENV_12 = 'http://www.w3.org/2003/05/soap-envelope';

/** A SOAP call as routed: which service (URN), which method, positional parameters, header tokens. */
export interface SoapCall {
  /** As the client wrote it, without `urn:`: `xtk:session`, `xtk:persist|nms:recipient`. */
  urn: string;
  /** The schema implementing the method: `nms:recipient` for `xtk:persist|nms:recipient`, `xtk:session` for `xtk:persist`. */
  schemaId: string;
  /** The interface named in the URN (`persist` for `xtk:persist|…`). */
  interfaceName?: string;
  method: string;
  /** Element children of the method element, in order: parameters are positional, names are ignored. */
  params: XmlElement[];
  /** Tokens carried in the SOAP header (`<Cookie>__sessiontoken=…</Cookie>`, `<X-Security-Token>`). */
  header: { sessionToken?: string; securityToken?: string };
}

/** Parses `urn:xtk:persist|xtk:session#Write`-style actions (quoted or not, with or without `urn:`). */
export function parseSoapAction(action: string | undefined): { urn: string; method: string } | undefined {
  if (!action) return undefined;
  const trimmed = action
    .trim()
    .replace(/^"(.*)"$/, '$1')
    .replace(/^urn:/, '');
  const hash = trimmed.lastIndexOf('#');
  if (hash <= 0 || hash === trimmed.length - 1) return undefined;
  return { urn: trimmed.slice(0, hash), method: trimmed.slice(hash + 1) };
}

/** `xtk:persist|nms:recipient` → interface persist on nms:recipient; `xtk:persist` → the session's persist interface. */
export function resolveUrn(urn: string): { schemaId: string; interfaceName?: string } {
  const [left, right] = urn.split('|');
  if (right !== undefined) return { schemaId: right, interfaceName: left!.split(':')[1] ?? left! };
  if (urn === 'xtk:persist') return { schemaId: 'xtk:session', interfaceName: 'persist' };
  return { schemaId: urn };
}

export interface SoapRequestOptions {
  soapAction?: string;
  limits?: Partial<XmlLimits>;
}

/** Malformed XML or a breached limit, as the Client fault the caller sees (the parser's message names the limit). */
const malformed = (err: unknown) => SOAP_FAULTS.malformed(err instanceof XmlParseError ? err.message : 'unreadable XML');

/**
 * Reads a SOAP 1.1 or 1.2 envelope. Routing: the SOAPAction header (or the `soapAction` query parameter)
 * when present, else the method element of the body (its local name, and its namespace `urn:…`). The method
 * element may have any prefix or a default namespace. Malformed XML, a DOCTYPE, or any XmlLimits breached
 * (depth, size, attributes, namespace declarations, nodes, text) → a Client fault; nothing is executed.
 * Parses in one go: a server reading request bodies uses `parseSoapRequestAsync`.
 */
export function parseSoapRequest(body: string, options: SoapRequestOptions = {}): SoapCall {
  let envelope: XmlElement;
  try {
    envelope = parseXml(body, { limits: options.limits ?? {} });
  } catch (err) {
    throw malformed(err);
  }
  return readEnvelope(envelope, options.soapAction);
}

/**
 * `parseSoapRequest` that yields to the event loop every slice of the body (see `parseXmlAsync`), so a
 * large or hostile body never holds a server's other requests for more than one slice's parsing.
 */
export async function parseSoapRequestAsync(body: string, options: SoapRequestOptions = {}): Promise<SoapCall> {
  let envelope: XmlElement;
  try {
    envelope = await parseXmlAsync(body, { limits: options.limits ?? {} });
  } catch (err) {
    throw malformed(err);
  }
  return readEnvelope(envelope, options.soapAction);
}

function readEnvelope(envelope: XmlElement, soapAction: string | undefined): SoapCall {
  if (envelope.local !== 'Envelope' || (envelope.ns !== SOAP_ENV_11 && envelope.ns !== SOAP_ENV_12)) {
    throw SOAP_FAULTS.malformed('the root element is not a SOAP Envelope');
  }
  const headerEl = envelope.children.find((c) => c.local === 'Header');
  const bodyEl = envelope.children.find((c) => c.local === 'Body');
  if (!bodyEl) throw SOAP_FAULTS.malformed('no SOAP Body');
  const methodEl = bodyEl.children[0];
  if (!methodEl) throw SOAP_FAULTS.malformed('the SOAP Body has no method element');

  const fromAction = parseSoapAction(soapAction);
  const bodyUrn = methodEl.ns.replace(/^urn:/, '');
  const urn = fromAction?.urn ?? bodyUrn;
  const method = fromAction?.method ?? methodEl.local;
  if (!urn) throw SOAP_FAULTS.malformed(`no SOAPAction and the method element <${methodEl.name}> has no urn namespace`);
  if (method !== methodEl.local) throw SOAP_FAULTS.malformed(`SOAPAction names '${method}' but the body calls '${methodEl.local}'`);

  const header: SoapCall['header'] = {};
  for (const h of headerEl?.children ?? []) {
    if (h.local === 'Cookie') {
      const m = /(?:^|;\s*)__sessiontoken=([^;]*)/.exec(h.text.trim());
      if (m?.[1]) header.sessionToken = m[1];
    } else if (h.local === 'X-Security-Token' && h.text.trim()) {
      header.securityToken = h.text.trim();
    }
  }
  return { urn, ...resolveUrn(urn), method, params: methodEl.children, header };
}
