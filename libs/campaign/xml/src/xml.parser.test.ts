import { attrLocal, element, parseXml, serializeXml, XmlParseError } from './index';

describe('parseXml', () => {
  it('when a SOAP envelope is parsed, then prefixes, namespaces, attributes, text and positions are kept', () => {
    const root = parseXml(
      '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>\n' +
        '<m:Logon xmlns:m="urn:xtk:session"><login xsi:type="xsd:string" xmlns:xsi="x">ad&amp;min</login><![CDATA[<raw>]]></m:Logon></SOAP-ENV:Body></SOAP-ENV:Envelope>',
    );
    const logon = root.children[0]!.children[0]!;
    expect([logon.name, logon.local, logon.prefix, logon.ns, logon.line]).toEqual(['m:Logon', 'Logon', 'm', 'urn:xtk:session', 2]);
    expect(logon.children[0]!.text).toBe('ad&min');
    expect(attrLocal(logon.children[0]!, 'type')).toBe('xsd:string');
    expect(logon.text).toBe('<raw>');
  });

  it.each([
    ['malformed XML', '<a><b></a>'],
    ['a DOCTYPE with entities (billion laughs)', '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><a>&lol2;</a>'],
    ['an external entity (XXE)', '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>'],
    ['an undefined entity', '<a>&nbsp;</a>'],
    ['two roots', '<a/><b/>'],
    ['no root', '   '],
  ])('when given %s, then it is refused with a position', (_label, xml) => {
    expect(() => parseXml(xml)).toThrow(XmlParseError);
  });

  it('when nesting is deeper than the limit, then parsing stops with a clear error', () => {
    const deep = '<a>'.repeat(100) + '</a>'.repeat(100);
    expect(() => parseXml(deep, { limits: { maxDepth: 64 } })).toThrow(/nested deeper than 64/);
  });

  it('when there are more elements than the limit, then parsing stops', () => {
    expect(() => parseXml(`<r>${'<x/>'.repeat(50)}</r>`, { limits: { maxElements: 10 } })).toThrow(/more than 10 elements/);
  });

  it('when a file is named, then errors name it with line and column', () => {
    expect(() => parseXml('<a>\n<b>\n</a>', { source: 'nms-recipient.xml' })).toThrow(/^nms-recipient\.xml:3:\d+: /);
  });
});

describe('serializeXml', () => {
  it('when values carry markup, quotes, newlines or control characters, then the output escapes them and parses back to the same values', () => {
    const tricky = `a&b<c>"d"'e'\nf\u0001`;
    const xml = serializeXml(element('recipient', { email: tricky }, [element('comment', {}, [], tricky)]));
    expect(xml.slice(0, xml.indexOf('>'))).not.toContain('\n'); // attribute values never carry raw newlines
    const back = parseXml(xml);
    expect(back.attrs['email']).toBe(tricky.replace('\u0001', '\uFFFD'));
    expect(back.children[0]!.text).toBe(tricky.replace('\u0001', '\uFFFD'));
  });

  it('when an element is empty, then it is self-closed', () => {
    expect(serializeXml(element('recipient-collection'))).toBe('<recipient-collection/>');
  });
});

describe('serializeXml plain', () => {
  it('when a document cut from a SOAP envelope is serialised plain, then it stands alone without prefixes', () => {
    const env = parseXml('<e:Envelope xmlns:e="urn:e" xmlns:xsi="urn:xsi"><e:Body><m:doc xmlns:m="urn:m" xsi:type=""><recipient xtkschema="nms:recipient" email="a@x"><m:loc city="P"/></recipient></m:doc></e:Body></e:Envelope>');
    const doc = env.children[0]!.children[0]!;
    const text = serializeXml(doc, { plain: true });
    expect(text).toBe('<doc><recipient xtkschema="nms:recipient" email="a@x"><loc city="P"/></recipient></doc>');
    expect(parseXml(text).children[0]!.attrs['email']).toBe('a@x');
  });
});
