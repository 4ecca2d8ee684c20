import { loadSchemaRegistry, SOURCE_BUILTIN_SCHEMA_DIR } from '@cap/campaign-files';
import type { Method, Schema } from '@cap/campaign-schema';
import { childrenNamed, firstChild, parseXml, type XmlElement } from '@cap/campaign-xml';
import { describeSchemaOperations, responseElementNames, serviceName, writeSchemaWsdl, type WsdlOperation } from './schema-wsdl.writer';

const schemas = loadSchemaRegistry({ builtinDir: SOURCE_BUILTIN_SCHEMA_DIR });
const schema = (id: string): Schema => schemas.get(id)!;
const op = (ops: WsdlOperation[], name: string): WsdlOperation => ops.find((o) => o.name === name)!;

function synthetic(methods: Method[]): Schema {
  return { ...schema('xtk:queryDef'), id: 'cus:thing', namespace: 'cus', name: 'thing', methods };
}

describe('describeSchemaOperations', () => {
  it('when a method is non-static (ExecuteQuery), then its input is the session token then the object, and its output the codec names', () => {
    const ops = describeSchemaOperations(schema('xtk:queryDef'));
    expect(ops.map((o) => o.name)).toEqual(['ExecuteQuery', 'BuildQuery', 'BuildQueryEx', 'SelectAll']);
    expect(op(ops, 'ExecuteQuery')).toEqual({
      name: 'ExecuteQuery',
      soapAction: 'xtk:queryDef#ExecuteQuery',
      input: [
        { name: 'sessiontoken', type: 'xsd:string' },
        { name: 'entity', type: 'tns:Element' },
      ],
      output: [{ name: 'pdomOutput', type: 'tns:Element' }],
    });
    // SelectAll changes its object: the optional echo comes first; its boolean in-param follows the object.
    expect(op(ops, 'SelectAll').input.map((p) => [p.name, p.type])).toEqual([
      ['sessiontoken', 'xsd:string'],
      ['entity', 'tns:Element'],
      ['duplicate', 'xsd:boolean'],
    ]);
    expect(op(ops, 'SelectAll').output).toEqual([{ name: 'entity', type: 'tns:Element', optional: true }]);
  });

  it('when the schema is xtk:session, then its own methods come with ns:name#Method and its persist interface with xtk:persist|xtk:session#Method', () => {
    const ops = describeSchemaOperations(schema('xtk:session'));
    expect(op(ops, 'Logon')).toMatchObject({
      soapAction: 'xtk:session#Logon',
      input: [
        { name: 'sessiontoken', type: 'xsd:string' },
        { name: 'login', type: 'xsd:string' },
        { name: 'password', type: 'xsd:string' },
        { name: 'parameters', type: 'tns:Element' },
      ],
      output: [
        { name: 'pstrSessionToken', type: 'xsd:string' },
        { name: 'pSessionInfo', type: 'tns:Element' },
        { name: 'pstrSecurityToken', type: 'xsd:string' },
      ],
    });
    expect(op(ops, 'GetOption').output).toEqual([
      { name: 'pstrValue', type: 'xsd:string' },
      { name: 'pbtType', type: 'xsd:byte' },
    ]);
    expect(op(ops, 'GetServerTime').output).toEqual([{ name: 'ptmServerTime', type: 'xsd:dateTime' }]);
    expect(op(ops, 'Write')).toMatchObject({
      soapAction: 'xtk:persist|xtk:session#Write',
      input: [{ name: 'sessiontoken' }, { name: 'doc', type: 'tns:Element' }],
      output: [],
    });
    expect(op(ops, 'GetEntityIfMoreRecent')).toMatchObject({
      soapAction: 'xtk:persist|xtk:session#GetEntityIfMoreRecent',
      output: [{ name: 'pdomDoc', type: 'tns:Element' }],
    });
    expect(new Set(ops.map((o) => o.name)).size).toBe(ops.length);
  });

  it('when an entity schema implements xtk:persist (nms:rtEvent), then only its own methods are described', () => {
    const ops = describeSchemaOperations(schema('nms:rtEvent'));
    expect(ops.map((o) => o.soapAction)).toEqual(['nms:rtEvent#PushEvent', 'nms:rtEvent#PushEvents']);
    expect(op(ops, 'PushEvent')).toEqual({
      name: 'PushEvent',
      soapAction: 'nms:rtEvent#PushEvent',
      input: [
        { name: 'sessiontoken', type: 'xsd:string' },
        { name: 'domEvent', type: 'tns:Element' },
      ],
      output: [{ name: 'plId', type: 'xsd:long' }],
    });
    expect(describeSchemaOperations(schema('nms:recipient'))).toEqual([]);
  });

  it('when parameters have every declared type, then they map to the XSD types Campaign uses', () => {
    const types = ['string', 'primarykey', 'boolean', 'byte', 'short', 'long', 'int64', 'datetime', 'date', 'DOMElement', 'DOMDocument', 'memo'];
    const method: Method = { name: 'All', static: true, const: false, params: types.map((type) => ({ name: `p_${type}`, type, inout: 'inout' })) };
    const [all] = describeSchemaOperations(synthetic([method]));
    const expected = [
      'xsd:string',
      'xsd:string',
      'xsd:boolean',
      'xsd:byte',
      'xsd:short',
      'xsd:int',
      'xsd:long',
      'xsd:dateTime',
      'xsd:date',
      'tns:Element',
      'tns:Element',
    ];
    // An undeclared type is read as text on the way in and written as an element on the way out (the codec's rules).
    expect(all!.input.slice(1).map((p) => p.type)).toEqual([...expected, 'xsd:string']);
    expect(all!.output.map((p) => p.type)).toEqual([...expected, 'tns:Element']);
  });

  it('when an in-param is named like a leading part, then it gets a unique element name (positions are what count)', () => {
    const method: Method = {
      name: 'Odd',
      static: false,
      const: true,
      params: [
        { name: 'entity', type: 'string', inout: 'in' },
        { name: 'sessiontoken', type: 'long', inout: 'in' },
      ],
    };
    const [odd] = describeSchemaOperations(synthetic([method]));
    expect(odd!.input.map((p) => p.name)).toEqual(['sessiontoken', 'entity', 'entity2', 'sessiontoken2']);
  });

  it('when the codec names outputs, then responseElementNames reads them back in order', () => {
    const method = schema('xtk:session').methods.find((m) => m.name === 'Logon')!;
    expect(responseElementNames('xtk:session', method)).toEqual(['pstrSessionToken', 'pSessionInfo', 'pstrSecurityToken']);
  });
});

describe('writeSchemaWsdl', () => {
  const wsdlOf = (id: string, address = 'http://gw.example:8080/nl/jsp/soaprouter.jsp'): XmlElement =>
    parseXml(writeSchemaWsdl(schema(id), describeSchemaOperations(schema(id)))(address));

  it('when written, then it is a WSDL 1.1 document/literal description with types, messages, port type, binding and service', () => {
    const wsdl = wsdlOf('xtk:queryDef');
    expect([wsdl.local, wsdl.ns, wsdl.attrs['targetNamespace']]).toEqual(['definitions', 'http://schemas.xmlsoap.org/wsdl/', 'urn:xtk:queryDef']);
    const xsd = firstChild(firstChild(wsdl, 'types')!, 'schema')!;
    expect(xsd.attrs).toMatchObject({ elementFormDefault: 'qualified', targetNamespace: 'urn:xtk:queryDef' });
    const elementType = childrenNamed(xsd, 'complexType').find((t) => t.attrs['name'] === 'Element')!;
    expect(firstChild(firstChild(elementType, 'sequence')!, 'any')!.attrs['processContents']).toBe('lax');
    const executeQuery = childrenNamed(xsd, 'element').find((e) => e.attrs['name'] === 'ExecuteQuery')!;
    const parts = firstChild(firstChild(executeQuery, 'complexType')!, 'sequence')!.children.map((e) => [
      e.attrs['name'],
      e.attrs['type'],
      e.attrs['minOccurs'],
    ]);
    expect(parts).toEqual([
      ['sessiontoken', 'xsd:string', '1'],
      ['entity', 'tns:Element', '1'],
    ]);
    expect(childrenNamed(wsdl, 'message').map((m) => m.attrs['name'])).toEqual([
      'ExecuteQueryIn',
      'ExecuteQueryOut',
      'BuildQueryIn',
      'BuildQueryOut',
      'BuildQueryExIn',
      'BuildQueryExOut',
      'SelectAllIn',
      'SelectAllOut',
    ]);
    const binding = firstChild(wsdl, 'binding')!;
    expect(firstChild(binding, 'binding')!.attrs).toEqual({ style: 'document', transport: 'http://schemas.xmlsoap.org/soap/http' });
    const bound = childrenNamed(binding, 'operation').find((o) => o.attrs['name'] === 'ExecuteQuery')!;
    expect(firstChild(bound, 'operation')!.attrs['soapAction']).toBe('xtk:queryDef#ExecuteQuery');
    expect(firstChild(firstChild(bound, 'input')!, 'body')!.attrs['use']).toBe('literal');
    const service = firstChild(wsdl, 'service')!;
    expect(service.attrs['name']).toBe('XtkQueryDef');
    expect(firstChild(firstChild(service, 'port')!, 'address')!.attrs['location']).toBe('http://gw.example:8080/nl/jsp/soaprouter.jsp');
  });

  it('when the address holds XML metacharacters, then they are escaped', () => {
    const wsdl = wsdlOf('xtk:session', 'http://h/"><x a="&');
    expect(firstChild(firstChild(firstChild(wsdl, 'service')!, 'port')!, 'address')!.attrs['location']).toBe('http://h/"><x a="&');
  });

  it('when a schema has no methods, then the WSDL is still valid with an empty port type', () => {
    const wsdl = wsdlOf('nms:recipient');
    expect(childrenNamed(firstChild(wsdl, 'portType')!, 'operation')).toEqual([]);
    expect(serviceName(schema('nms:recipient'))).toBe('NmsRecipient');
  });
});
