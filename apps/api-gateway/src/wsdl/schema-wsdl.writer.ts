import type { Method, MethodParam, Schema } from '@cap/campaign-schema';
import { buildSoapResponse, XSD_SCALAR_TYPES } from '@cap/campaign-soap';
import { escapeAttr, parseXml } from '@cap/campaign-xml';

/**
 * WSDL 1.1, document/literal, of one schema's SOAP methods, shaped like the one Campaign serves at
 * `/nl/jsp/schemawsdl.jsp?schema=ns:name`: one operation per method, the SOAPAction the router routes on,
 * input parts in the router's positional order and output parts named as the codec writes them.
 */

const XSD_NS = 'http://www.w3.org/2001/XMLSchema';
const WSDL_NS = 'http://schemas.xmlsoap.org/wsdl/';
const SOAP_BINDING_NS = 'http://schemas.xmlsoap.org/wsdl/soap/';
const SOAP_HTTP = 'http://schemas.xmlsoap.org/soap/http';

/** The complex type of DOMElement/DOMDocument values: any one element (Campaign names it `ns:Element`). */
const ELEMENT_TYPE = 'tns:Element';

/** XSD type of a scalar parameter: the codec's table, except that primary keys are declared as plain strings. */
const SCALAR_TYPES: Readonly<Record<string, string>> = { ...XSD_SCALAR_TYPES, primarykey: 'xsd:string' };

export interface WsdlPart {
  name: string;
  /** Qualified XSD type: `xsd:string`, `tns:Element`. */
  type: string;
  /** Only the optional `entity` echo of methods that change their object is not always sent. */
  optional?: boolean;
}

export interface WsdlOperation {
  name: string;
  soapAction: string;
  input: WsdlPart[];
  output: WsdlPart[];
}

/**
 * A declared in-parameter's type. Types the decoder does not know are read as raw text (xsd:string);
 * unknown out-types are written as elements by the codec (tns:Element).
 */
function xsdType(param: MethodParam, direction: 'in' | 'out'): string {
  if (param.type === 'DOMElement' || param.type === 'DOMDocument') return ELEMENT_TYPE;
  return SCALAR_TYPES[param.type] ?? (direction === 'in' ? 'xsd:string' : ELEMENT_TYPE);
}

/**
 * The element names `buildSoapResponse` gives the out-parameters (`pstrSessionToken`, `pdomOutput`,
 * `plId`): read back from the codec itself, so the WSDL cannot drift from what the router answers.
 */
export function responseElementNames(urn: string, method: Method): string[] {
  const outputs = method.params.filter((p) => p.inout !== 'in').map((param) => ({ param, value: undefined }));
  const envelope = parseXml(buildSoapResponse({ urn, method: method.name, outputs }));
  const response = envelope.children.find((c) => c.local === 'Body')?.children[0];
  if (!response || response.children.length !== outputs.length) {
    throw new Error(`the SOAP codec wrote ${response?.children.length ?? 0} outputs for ${urn}#${method.name}, expected ${outputs.length}`);
  }
  return response.children.map((c) => c.local);
}

/**
 * The operations a schema serves through the router: its own `<methods>` (`ns:name#Method`) and the methods
 * of its own `persist` interface (`xtk:persist|xtk:session#Write`: the only interface the router dispatches;
 * entity schemas that merely implement xtk:persist add nothing). Inputs follow the router's positional
 * order: the session token, the object (`entity`) for non-static methods, then the in-params as declared.
 */
export function describeSchemaOperations(schema: Schema): WsdlOperation[] {
  const seen = new Set<string>();
  const operations: WsdlOperation[] = [];
  const candidates = [
    ...schema.methods.filter((m) => !m.interface).map((m) => ({ method: m, urn: schema.id })),
    ...schema.methods.filter((m) => m.interface === 'persist').map((m) => ({ method: m, urn: `${schema.namespace}:persist|${schema.id}` })),
  ];
  for (const { method, urn } of candidates) {
    if (seen.has(method.name)) continue; // element and message names must be unique in one WSDL
    seen.add(method.name);
    const input: WsdlPart[] = [{ name: 'sessiontoken', type: 'xsd:string' }];
    if (!method.static) input.push({ name: 'entity', type: ELEMENT_TYPE });
    // Names do not matter to the router (positions do), but must be unique within one sequence.
    const taken = new Set(input.map((x) => x.name));
    for (const p of method.params.filter((x) => x.inout !== 'out')) {
      let name = p.name;
      for (let i = 2; taken.has(name); i++) name = `${p.name}${i}`;
      taken.add(name);
      input.push({ name, type: xsdType(p, 'in') });
    }

    const outParams = method.params.filter((p) => p.inout !== 'in');
    const names = responseElementNames(urn, method);
    const output: WsdlPart[] = [];
    // Methods that are neither static nor const may echo their changed object first (SelectAll).
    if (!method.static && !method.const) output.push({ name: 'entity', type: ELEMENT_TYPE, optional: true });
    outParams.forEach((p, i) => output.push({ name: names[i]!, type: xsdType(p, 'out') }));
    operations.push({ name: method.name, soapAction: `${urn}#${method.name}`, input, output });
  }
  return operations;
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** `xtk:queryDef` → `XtkQueryDef`, Campaign's service name. */
export function serviceName(schema: Pick<Schema, 'namespace' | 'name'>): string {
  return `${capitalize(schema.namespace)}${capitalize(schema.name)}`;
}

function sequence(parts: WsdlPart[], indent: string): string {
  if (parts.length === 0) return `${indent}<xsd:complexType><xsd:sequence/></xsd:complexType>`;
  const elements = parts.map(
    (p) => `${indent}    <xsd:element name="${escapeAttr(p.name)}" type="${escapeAttr(p.type)}" minOccurs="${p.optional ? 0 : 1}" maxOccurs="1"/>`,
  );
  return [`${indent}<xsd:complexType>`, `${indent}  <xsd:sequence>`, ...elements, `${indent}  </xsd:sequence>`, `${indent}</xsd:complexType>`].join('\n');
}

/**
 * Writes the WSDL. Split at the address so the route can cache everything but the endpoint URL, which comes
 * from each request's Host.
 */
export function writeSchemaWsdl(schema: Schema, operations: readonly WsdlOperation[]): (address: string) => string {
  const tns = `urn:${schema.id}`;
  const portType = `${schema.name}MethodsSoap`;
  const a = escapeAttr;
  const lines: string[] = [
    `<?xml version="1.0" encoding="utf-8"?>`,
    `<wsdl:definitions xmlns:wsdl="${WSDL_NS}" xmlns:xsd="${XSD_NS}" xmlns:soap="${SOAP_BINDING_NS}" xmlns:tns="${a(tns)}" targetNamespace="${a(tns)}">`,
    `  <wsdl:types>`,
    `    <xsd:schema elementFormDefault="qualified" targetNamespace="${a(tns)}">`,
    `      <xsd:complexType name="Element">`,
    `        <xsd:sequence>`,
    `          <xsd:any processContents="lax"/>`,
    `        </xsd:sequence>`,
    `      </xsd:complexType>`,
  ];
  for (const op of operations) {
    lines.push(`      <xsd:element name="${a(op.name)}">`, sequence(op.input, '        '), `      </xsd:element>`);
    lines.push(`      <xsd:element name="${a(op.name)}Response">`, sequence(op.output, '        '), `      </xsd:element>`);
  }
  lines.push(`    </xsd:schema>`, `  </wsdl:types>`);
  for (const op of operations) {
    lines.push(
      `  <wsdl:message name="${a(op.name)}In">`,
      `    <wsdl:part name="parameters" element="tns:${a(op.name)}"/>`,
      `  </wsdl:message>`,
      `  <wsdl:message name="${a(op.name)}Out">`,
      `    <wsdl:part name="parameters" element="tns:${a(op.name)}Response"/>`,
      `  </wsdl:message>`,
    );
  }
  lines.push(`  <wsdl:portType name="${a(portType)}">`);
  for (const op of operations) {
    lines.push(
      `    <wsdl:operation name="${a(op.name)}">`,
      `      <wsdl:input message="tns:${a(op.name)}In"/>`,
      `      <wsdl:output message="tns:${a(op.name)}Out"/>`,
      `    </wsdl:operation>`,
    );
  }
  lines.push(
    `  </wsdl:portType>`,
    `  <wsdl:binding name="${a(portType)}" type="tns:${a(portType)}">`,
    `    <soap:binding style="document" transport="${SOAP_HTTP}"/>`,
  );
  for (const op of operations) {
    lines.push(
      `    <wsdl:operation name="${a(op.name)}">`,
      `      <soap:operation soapAction="${a(op.soapAction)}" style="document"/>`,
      `      <wsdl:input><soap:body use="literal"/></wsdl:input>`,
      `      <wsdl:output><soap:body use="literal"/></wsdl:output>`,
      `    </wsdl:operation>`,
    );
  }
  lines.push(`  </wsdl:binding>`, `  <wsdl:service name="${a(serviceName(schema))}">`, `    <wsdl:port name="${a(portType)}" binding="tns:${a(portType)}">`);
  const head = lines.join('\n');
  const tail = ['"/>', `    </wsdl:port>`, `  </wsdl:service>`, `</wsdl:definitions>`, ''].join('\n');
  return (address) => `${head}\n      <soap:address location="${a(address)}${tail}`;
}
