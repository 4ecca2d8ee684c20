import { element, parseXml, XmlParseError, type XmlElement } from '@cap/campaign-xml';
import { appError, appErrorWithText, ErrorCatalogue, type AppError } from '@cap/platform-errors';

/**
 * Documents as scripts give them (an XML string, or an object in the SDK's SimpleJson form) and results as
 * scripts read them (SimpleJson objects: there is no E4X here).
 *
 * SimpleJson → XML (the SDK's rules): a string, number or boolean property is an attribute (`@x` forces an
 * attribute), `$` is the element's text, `$x` a child element holding text, an object a child element, an
 * array repeated child elements; null and undefined are left out.
 *
 * XML → SimpleJson: attributes are properties (text), child elements are objects (an array when the name
 * repeats), a child holding only text is `$name`; an attribute whose name a child already took is `@name`.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type SimpleJson = { [key: string]: string | SimpleJson | SimpleJson[] };

/** What the Campaign API inside the sandbox sends for a document argument. */
export type DocumentArg = { xml: string } | { json: JsonValue };

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*(:[A-Za-z_][A-Za-z0-9_.-]*)?$/;

function invalid(message: string): AppError {
  return appErrorWithText(ErrorCatalogue.SOAP_BAD_PARAMETER, message);
}

function scalar(v: JsonValue): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return undefined;
}

/** Builds the element `name` from a SimpleJson object. */
export function jsonToElement(name: string, json: JsonValue, depth = 0): XmlElement {
  if (depth > 32) throw invalid('the document is nested too deeply');
  if (!NAME.test(name)) throw invalid(`'${name.slice(0, 64)}' cannot be an XML element name`);
  const el = element(name);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    el.text = scalar(json) ?? '';
    return el;
  }
  for (const [key, value] of Object.entries(json)) {
    if (value === null || value === undefined) continue;
    if (key === '$') {
      el.text = scalar(value) ?? '';
      continue;
    }
    const s = scalar(value);
    if (key.startsWith('@') || (s !== undefined && !key.startsWith('$'))) {
      const attr = key.startsWith('@') ? key.slice(1) : key;
      if (!NAME.test(attr)) throw invalid(`'${attr.slice(0, 64)}' cannot be an XML attribute name`);
      if (s === undefined) throw invalid(`attribute '${attr}' must be text, a number or a boolean`);
      el.attrs[attr] = s;
    } else if (key.startsWith('$')) {
      el.children.push(element(key.slice(1), {}, [], s ?? ''));
    } else if (Array.isArray(value)) {
      for (const item of value) el.children.push(jsonToElement(key, item, depth + 1));
    } else {
      el.children.push(jsonToElement(key, value, depth + 1));
    }
  }
  return el;
}

/** One element as a SimpleJson object. */
export function elementToJson(el: XmlElement): SimpleJson {
  const out: SimpleJson = {};
  const groups = new Map<string, XmlElement[]>();
  for (const c of el.children) groups.set(c.local, [...(groups.get(c.local) ?? []), c]);
  for (const [name, list] of groups) {
    const textOnly = list.length === 1 && Object.keys(list[0]!.attrs).length === 0 && list[0]!.children.length === 0;
    if (textOnly) out[`$${name}`] = list[0]!.text;
    else out[name] = list.length === 1 ? elementToJson(list[0]!) : list.map(elementToJson);
  }
  for (const [qname, value] of Object.entries(el.attrs)) {
    if (qname === 'xmlns' || qname.startsWith('xmlns:')) continue;
    const colon = qname.indexOf(':');
    const name = colon >= 0 ? qname.slice(colon + 1) : qname;
    out[Object.hasOwn(out, name) ? `@${name}` : name] = value;
  }
  if (el.text.trim() !== '' && (el.children.length > 0 || Object.keys(el.attrs).length > 0)) out['$'] = el.text;
  return out;
}

/**
 * A query result as scripts read it (the SDK's SimpleJson results): select → `{ recipient: [ {…}, … ] }`
 * (always an array), get → `{…}`, getIfExists → `{…}` or null, count → `{ count: "N" }`.
 */
export function queryResultToJson(result: XmlElement, operation: string, rowName: string): SimpleJson | null {
  switch (operation) {
    case 'select':
      return { [rowName]: result.children.map(elementToJson) };
    case 'getIfExists':
      return Object.keys(result.attrs).length === 0 && result.children.length === 0 ? null : elementToJson(result);
    default:
      return elementToJson(result);
  }
}

/** Parses a script's XML string (the platform's hardened parser: no DOCTYPE, bounded size and depth). */
export function parseScriptXml(xml: string, what: string): XmlElement {
  try {
    return parseXml(xml, { limits: { maxLength: 16 * 1024 * 1024, maxDepth: 32 } });
  } catch (err) {
    if (err instanceof XmlParseError) throw appError(ErrorCatalogue.SOAP_MALFORMED, { what, why: err.message });
    throw err;
  }
}

/** The queryDef of an ExecuteQuery call: `<queryDef …>` text, `{ queryDef: {…} }` or the bare `{ schema, … }`. */
export function readQueryDef(arg: DocumentArg): XmlElement {
  if ('xml' in arg) {
    const el = parseScriptXml(arg.xml, 'queryDef');
    if (el.local !== 'queryDef') throw invalid(`expected a <queryDef> document, got <${el.local}>`);
    return el;
  }
  const json = arg.json;
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw invalid('the queryDef must be an object or an XML string');
  const inner = json['queryDef'];
  const body = inner !== null && typeof inner === 'object' && !Array.isArray(inner) && json['schema'] === undefined ? inner : json;
  return jsonToElement('queryDef', body);
}

/**
 * The document of a Write, WriteCollection, Ingest or IngestExt call. An object names its schema with
 * `xtkschema` (the root element is then the schema's name: `{ xtkschema: "nms:recipient", email: … }` →
 * `<recipient …/>`), or is `{ recipient: { xtkschema: …, … } }` (one property: the root element).
 */
export function readWriteDocument(arg: DocumentArg, mode: string): XmlElement {
  if ('xml' in arg) return parseScriptXml(arg.xml, 'document');
  const json = arg.json;
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw invalid('the document must be an object or an XML string');
  const schemaId = typeof json['xtkschema'] === 'string' ? json['xtkschema'] : undefined;
  if (schemaId) {
    const name = schemaId.slice(schemaId.indexOf(':') + 1);
    return jsonToElement(mode === 'writeCollection' ? `${name}-collection` : name, json);
  }
  const keys = Object.keys(json);
  if (keys.length === 1 && json[keys[0]!] !== null && typeof json[keys[0]!] === 'object' && !Array.isArray(json[keys[0]!]))
    return jsonToElement(keys[0]!, json[keys[0]!]!);
  throw appError(ErrorCatalogue.MISSING_SCHEMA, { detail: 'The document does not say which schema it writes: add xtkschema: "namespace:name"' });
}

/** A recipient element (Subscribe): XML text or an object (`<recipient …/>`). */
export function readElement(arg: DocumentArg, rootName: string, what: string): XmlElement {
  if ('xml' in arg) return parseScriptXml(arg.xml, what);
  const json = arg.json;
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw invalid(`${what} must be an object or an XML string`);
  return jsonToElement(rootName, json);
}

/** Variables (PostEvent): `<variables a="1"/>` text or `{ a: "1" }`; values become text. */
export function readVariables(arg: DocumentArg | null): Record<string, string> {
  if (arg === null) return {};
  if ('xml' in arg) return { ...parseScriptXml(arg.xml, 'variables').attrs };
  const json = arg.json;
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw invalid('the variables must be an object or an XML string');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(json)) {
    const s = scalar(v);
    if (s !== undefined) out[k] = s;
  }
  return out;
}
