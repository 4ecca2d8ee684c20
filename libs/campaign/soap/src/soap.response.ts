import type { MethodParam } from '@cap/campaign-schema';
import { escapeText, serializeXml, type XmlElement } from '@cap/campaign-xml';
import type { SoapFault } from './soap.fault';

const ENVELOPE_OPEN =
  "<?xml version='1.0'?><SOAP-ENV:Envelope xmlns:xsd='http://www.w3.org/2001/XMLSchema' xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance' xmlns:ns='urn:wpp:default' xmlns:SOAP-ENV='http://schemas.xmlsoap.org/soap/envelope/'><SOAP-ENV:Body>";
const ENVELOPE_CLOSE = '</SOAP-ENV:Body></SOAP-ENV:Envelope>';
const ENCODING = "SOAP-ENV:encodingStyle='http://schemas.xmlsoap.org/soap/encoding/'";
const LITERAL_XML = "SOAP-ENV:encodingStyle='http://xml.apache.org/xml-soap/literalxml'";

/**
 * xsi:type of a scalar out-parameter, literally as the SDK checks it (docs/campaign-api.md#responses-and-types: `long` is 32-bit
 * xsd:int, `int64` is xsd:long). The WSDL writer declares its parts from the same table.
 */
export const XSD_SCALAR_TYPES: Readonly<Record<string, string>> = {
  string: 'xsd:string',
  primarykey: 'xsd:primarykey',
  boolean: 'xsd:boolean',
  byte: 'xsd:byte',
  short: 'xsd:short',
  long: 'xsd:int',
  int64: 'xsd:long',
  datetime: 'xsd:dateTime',
  date: 'xsd:date',
};

const NAME_PREFIX: Record<string, string> = {
  string: 'pstr',
  boolean: 'pb',
  byte: 'pbt',
  short: 'ps',
  long: 'pl',
  int64: 'pl',
  datetime: 'ptm',
  date: 'ptm',
  DOMElement: 'p',
  DOMDocument: 'pdom',
  primarykey: 'pstr',
};

/** An element output already serialised (a query result built as text by the service that read it). */
export interface RawXml {
  readonly rawXml: string;
}

export function rawXml(text: string): RawXml {
  return { rawXml: text };
}

function isRawXml(value: unknown): value is RawXml {
  return typeof value === 'object' && value !== null && typeof (value as { rawXml?: unknown }).rawXml === 'string';
}

export type OutValue = string | number | boolean | Date | XmlElement | RawXml | null | undefined;

function formatScalar(type: string, value: Exclude<OutValue, XmlElement | RawXml>): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return type === 'date' ? value.toISOString().slice(0, 10) : value.toISOString();
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return String(value);
}

/**
 * `<{Method}Response xmlns='urn:{urn}'>` with one typed element per out-parameter, in order: the literal
 * `SOAP-ENV` prefix, unprefixed response element and `xsi:type` values the SDK requires. `entity` (for
 * non-static methods that change their object, e.g. SelectAll) is echoed first as `<entity>`.
 */
export function buildSoapResponse(options: { urn: string; method: string; outputs: { param: MethodParam; value: OutValue }[]; entity?: XmlElement }): string {
  const parts: string[] = [ENVELOPE_OPEN, `<${options.method}Response xmlns='urn:${escapeText(options.urn)}' ${ENCODING}>`];
  if (options.entity) parts.push(`<entity xsi:type='ns:Element' ${LITERAL_XML}>`, serializeXml(options.entity), '</entity>');
  for (const { param, value } of options.outputs) {
    const name = `${NAME_PREFIX[param.type] ?? 'p'}${param.name.charAt(0).toUpperCase()}${param.name.slice(1)}`;
    if (param.type === 'DOMElement' || param.type === 'DOMDocument' || !(param.type in XSD_SCALAR_TYPES)) {
      const inner = isRawXml(value) ? value.rawXml : value && typeof value === 'object' && !(value instanceof Date) ? serializeXml(value) : '';
      parts.push(`<${name} xsi:type='ns:Element' ${LITERAL_XML}>`, inner, `</${name}>`);
    } else {
      parts.push(
        `<${name} xsi:type='${XSD_SCALAR_TYPES[param.type]}'>`,
        escapeText(formatScalar(param.type, value as Exclude<OutValue, XmlElement | RawXml>)),
        `</${name}>`,
      );
    }
  }
  parts.push(`</${options.method}Response>`, ENVELOPE_CLOSE);
  return parts.join('');
}

/** A fault exactly as the SDK parses it: first child of Body, `SOAP-ENV:Fault`, code first in faultstring. */
export function buildSoapFault(fault: Pick<SoapFault, 'faultcode' | 'faultstring' | 'detail'>): string {
  return [
    ENVELOPE_OPEN,
    '<SOAP-ENV:Fault>',
    `<faultcode>${fault.faultcode}</faultcode>`,
    `<faultstring xsi:type='xsd:string'>${escapeText(fault.faultstring)}</faultstring>`,
    fault.detail ? `<detail xsi:type='xsd:string'>${escapeText(fault.detail)}</detail>` : '',
    '</SOAP-ENV:Fault>',
    ENVELOPE_CLOSE,
  ].join('');
}
