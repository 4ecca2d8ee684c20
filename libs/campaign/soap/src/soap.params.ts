import type { Method, MethodParam } from '@cap/campaign-schema';
import type { XmlElement } from '@cap/campaign-xml';
import { SOAP_FAULTS } from './soap.fault';
import type { SoapCall } from './soap.request';

/** A decoded in-parameter value. DOM parameters are the element passed (or undefined when empty). */
export type ParamValue = string | number | boolean | Date | XmlElement | undefined;

export interface DecodedCall {
  /** The session token from the first positional parameter (may be empty). */
  sessionToken: string;
  /** For non-static methods: the object the method is called on (`<queryDef>` for ExecuteQuery). */
  entity?: XmlElement;
  /** In-parameters by declared name. */
  values: Map<string, ParamValue>;
}

/**
 * Maps positional parameters to the method's declared in-parameters: the session token first, then (for
 * non-static methods) the entity document, then the in-params in declaration order. Element names are
 * ignored (`sessiontoken`, `__sessiontoken`, `strLogin`…): only positions and types count.
 */
export function decodeParams(call: SoapCall, method: Method): DecodedCall {
  const params = [...call.params];
  const tokenEl = params.shift();
  const sessionToken = tokenEl?.text.trim() ?? '';
  let entity: XmlElement | undefined;
  if (!method.static) {
    const doc = params.shift();
    entity = doc?.children[0];
    if (!entity) throw SOAP_FAULTS.badParameter(method.name, 'document', `method '${method.name}' is called on an object: the second parameter must hold it`);
  }
  const values = new Map<string, ParamValue>();
  const inParams = method.params.filter((p) => p.inout !== 'out');
  inParams.forEach((param, i) => values.set(param.name, decodeValue(method, param, params[i])));
  return { sessionToken, values, ...(entity ? { entity } : {}) };
}

function decodeValue(method: Method, param: MethodParam, el: XmlElement | undefined): ParamValue {
  if (!el) return undefined;
  const text = el.text.trim();
  const bad = (why: string) => SOAP_FAULTS.badParameter(method.name, param.name, why);
  switch (param.type) {
    case 'DOMElement':
    case 'DOMDocument':
      return el.children[0];
    case 'boolean':
      if (text === '') return undefined;
      if (text === 'true' || text === '1') return true;
      if (text === 'false' || text === '0') return false;
      throw bad(`expected a boolean, got '${text.slice(0, 40)}'`);
    case 'byte':
    case 'short':
    case 'long':
      if (text === '') return undefined;
      if (!/^-?\d+$/.test(text)) throw bad(`expected an integer, got '${text.slice(0, 40)}'`);
      return Number(text);
    case 'int64':
      if (text === '') return undefined;
      if (!/^-?\d{1,19}$/.test(text)) throw bad(`expected a 64-bit integer, got '${text.slice(0, 40)}'`);
      return text;
    case 'datetime':
    case 'date': {
      if (text === '') return undefined;
      const d = new Date(text);
      if (Number.isNaN(d.getTime())) throw bad(`expected a date, got '${text.slice(0, 40)}'`);
      return d;
    }
    default:
      return el.text; // string, primarykey: raw text
  }
}
