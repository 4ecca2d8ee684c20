import { attrLocal, DEFAULT_XML_LIMITS, element, parseXml, parseXmlAsync, serializeXml, XML_SLICE_LENGTH, XmlParseError, type XmlLimits } from './index';

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

  it('when a DOCTYPE opens the document, then it is refused before its internal subset is read, however long', () => {
    // An internal subset that never ends: read through, it would be refused for its end, not for being a DOCTYPE.
    const xml = `<?xml version="1.0"?>\n<!-- a comment -->\n<!DOCTYPE a [${'<!ENTITY e "x">'.repeat(200_000)}`;
    expect(() => parseXml(xml)).toThrow(/^3:1: DOCTYPE declarations are not allowed$/);
  });

  it('when a file is named, then errors name it with line and column', () => {
    expect(() => parseXml('<a>\n<b>\n</a>', { source: 'nms-recipient.xml' })).toThrow(/^nms-recipient\.xml:3:\d+: /);
  });
});

/** The error `parseXml` throws for `xml` (fails the test when it parses). */
function refusal(xml: string, limits: Partial<XmlLimits> = {}): XmlParseError {
  try {
    parseXml(xml, { limits });
  } catch (err) {
    if (err instanceof XmlParseError) return err;
    throw err;
  }
  throw new Error('expected the document to be refused');
}

const ENVELOPE_OPEN =
  '<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ' +
  'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns="http://xml.apache.org/xml-soap"><SOAP-ENV:Body>';
const ENVELOPE_CLOSE = '</SOAP-ENV:Body></SOAP-ENV:Envelope>';
const attributes = (count: number, name = (i: number) => `a${i}`, value = '') => Array.from({ length: count }, (_, i) => ` ${name(i)}="${value}"`).join('');

describe('parseXml limits', () => {
  // Each limit, set small: the document at the limit parses, one more node/character/declaration is refused,
  // and the refusal names the limit.
  it.each<[keyof XmlLimits, number, string, string, RegExp]>([
    ['maxDepth', 3, '<a><b><c/></b></a>', '<a><b><c><d/></c></b></a>', /elements nested deeper than 3 \(limit maxDepth\)/],
    ['maxElements', 3, '<a><b/><c/></a>', '<a><b/><c/><d/></a>', /more than 3 elements \(limit maxElements\)/],
    ['maxLength', 12, '<a>12345</a>', '<a>123456</a>', /document is larger than 12 characters \(limit maxLength\)/],
    [
      'maxAttributesPerElement',
      3,
      '<a x="" y="" z=""/>',
      '<a x="" y="" z="" w=""/>',
      /more than 3 attributes on element <a> \(limit maxAttributesPerElement\)/,
    ],
    ['maxAttributesPerElement', 3, '<a xmlns="u" x="" y=""/>', '<a xmlns="u" x="" y="" z=""/>', /more than 3 attributes/],
    [
      'maxNamespaceDeclarationsPerElement',
      2,
      '<p:a xmlns:p="u" xmlns="v"><b xmlns:q="w"/></p:a>',
      '<p:a xmlns:p="u" xmlns="v" xmlns:q="w"/>',
      /more than 2 namespace declarations on element <p:a> \(limit maxNamespaceDeclarationsPerElement\)/,
    ],
    [
      'maxNamespaceDeclarations',
      3,
      '<a xmlns:p="u"><p:b xmlns:q="v"/><c xmlns="w"/></a>',
      '<a xmlns:p="u"><p:b xmlns:q="v"/><c xmlns="w"/><d xmlns:r="x"/></a>',
      /more than 3 namespace declarations \(limit maxNamespaceDeclarations\)/,
    ],
    // Nodes: a, its attribute x, the text "t", b = 4; then the text "u" is the fifth.
    ['maxNodes', 4, '<a x="1">t<b/></a>', '<a x="1">t<b/>u</a>', /more than 4 nodes \(limit maxNodes\)/],
    ['maxNodes', 4, '<a><b/><c/><d/></a>', '<a><b/><c/><d/><e/></a>', /more than 4 nodes/],
    ['maxNodes', 3, '<a>t<![CDATA[c]]></a>', '<a>t<![CDATA[c]]><?pi?>u</a>', /more than 3 nodes/],
    // Text: references count resolved (&amp; is one character), CDATA counts, across elements.
    [
      'maxTextLength',
      5,
      '<a>&amp;b<c><![CDATA[de]]></c>f</a>',
      '<a>&amp;b<c><![CDATA[de]]></c>fg</a>',
      /more than 5 characters of text \(limit maxTextLength\)/,
    ],
    [
      'maxAttributeValueLength',
      3,
      '<a x="&lt;&gt;c" y="abc"/>',
      '<a x="abc" y="abcd"/>',
      /attribute y is longer than 3 characters \(limit maxAttributeValueLength\)/,
    ],
  ])(
    'when a document reaches %s (%i), then it parses, and one more is refused with a message naming the limit',
    (limit, value, atLimit, overLimit, message) => {
      expect(parseXml(atLimit, { limits: { [limit]: value } }).name).toBe(atLimit.slice(1, atLimit.search(/[ />]/)));
      const err = refusal(overLimit, { [limit]: value });
      expect(err.message).toMatch(message);
      expect(err.limit).toBe(limit);
    },
  );

  it.each<[string, string, keyof XmlLimits]>([
    ['700,000 attributes on one element', `<m:Logon xmlns:m="urn:xtk:session"${attributes(700_000)}/>`, 'maxAttributesPerElement'],
    [
      '400,000 namespace declarations on one element',
      `<m:Logon xmlns:m="urn:xtk:session"${attributes(400_000, (i) => `xmlns:p${i}`, 'u')}/>`,
      'maxNamespaceDeclarationsPerElement',
    ],
    [
      '300,000 prefixes, each declared on its own element',
      `<r>${Array.from({ length: 300_000 }, (_, i) => `<p${i}:x xmlns:p${i}="u"/>`).join('')}</r>`,
      'maxNamespaceDeclarations',
    ],
    ['1,000,000 attributes over 5,000 elements', `<r>${`<x${attributes(200)}/>`.repeat(5_000)}</r>`, 'maxNodes'],
    // A value is refused once read (saxes reports it whole), before anything after it.
    ['a 1.5 Mi-character attribute value', `<r a="${'v'.repeat(1536 * 1024)}">${'<x/>'.repeat(500_000)}</r>`, 'maxAttributeValueLength'],
  ])('when a document carries %s, then the default limits refuse it where the breach is, not at its end', (_label, xml, limit) => {
    const err = refusal(xml);
    expect(err.limit).toBe(limit);
    // Where the parser stopped: the first breach, long before the end of the document.
    expect(err.column).toBeLessThan(xml.length / 2);
  });

  it('when an SDK envelope carries a WriteCollection of 20,000 records of 20 fields, then the default limits accept it', () => {
    const record = (i: number) => `<recipient email="r${i}@example.com"${Array.from({ length: 18 }, (_, k) => ` f${k}="${k}"`).join('')} _operation="insert"/>`;
    const records = Array.from({ length: 20_000 }, (_, i) => record(i)).join('');
    const xml = `${ENVELOPE_OPEN}<m:WriteCollection xmlns:m="urn:xtk:session"><sessiontoken xsi:type="xsd:string">t</sessiontoken><domDoc xsi:type="ns:Element"><recipient-collection xtkschema="nms:recipient">${records}</recipient-collection></domDoc></m:WriteCollection>${ENVELOPE_CLOSE}`;
    const collection = parseXml(xml).children[0]!.children[0]!.children[1]!.children[0]!;
    expect(collection.children).toHaveLength(20_000);
    expect(collection.children[19_999]!.attrs['email']).toBe('r19999@example.com');
  });

  it('when elements sit at the default limits (1,024 attributes, 32 declarations, 256 in the document, a 1 Mi-character value), then they parse', () => {
    const declarations = (from: number) => attributes(32, (i) => `xmlns:p${from + i}`, 'u');
    const nested =
      Array.from({ length: 8 }, (_, d) => `<e${d}${declarations(d * 32)}>`).join('') + Array.from({ length: 8 }, (_, d) => `</e${7 - d}>`).join('');
    const wide = `<r${attributes(DEFAULT_XML_LIMITS.maxAttributesPerElement - 1)} big="${'v'.repeat(DEFAULT_XML_LIMITS.maxAttributeValueLength)}">${nested}</r>`;
    const root = parseXml(wide);
    expect(Object.keys(root.attrs)).toHaveLength(1_024);
    expect(root.attrs['big']).toHaveLength(1024 * 1024);
    expect(Object.keys(root.children[0]!.attrs)).toHaveLength(32);
  });

  it('when a queryDef has 500 conditions, then the default limits accept it', () => {
    const conditions = Array.from({ length: 500 }, (_, i) => `<condition expr="@email = 'r${i}@example.com'" boolOperator="OR"/>`).join('');
    const query = parseXml(`<queryDef schema="nms:recipient" operation="select"><select><node expr="@email"/></select><where>${conditions}</where></queryDef>`);
    expect(query.children[1]!.children).toHaveLength(500);
  });

  it('when a refusal quotes a huge element name or parser message, then the message stays short', () => {
    const name = 'n'.repeat(100_000);
    expect(refusal(`<${name}${attributes(5)}/>`, { maxAttributesPerElement: 4 }).message.length).toBeLessThan(300);
    expect(refusal(`<a ${name}="" ${name}=""/>`).message.length).toBeLessThan(300); // saxes: duplicate attribute …
  });
});

/** Documents the async parser must read exactly as the sync one: line ends, surrogate pairs, CDATA and references across slices. */
const CORPUS: [string, string][] = [
  [
    'a SOAP envelope',
    `${ENVELOPE_OPEN}\n<m:Logon xmlns:m="urn:xtk:session"><login xsi:type="xsd:string">ad&amp;min</login><![CDATA[<raw>]]></m:Logon>${ENVELOPE_CLOSE}`,
  ],
  ['CR LF line ends and tabs', '<a>\r\n\t<b x="1\r\n2"/>\r\n<c>t\r</c>\r\n</a>'],
  ['surrogate pairs in text, names and attributes', '<r é="😀x">a😀b<😀/>𝄞𝄞<c v="𝄞"/></r>'],
  [
    'comments, processing instructions and references',
    '<?xml version="1.0"?><!-- c --><r><?pi data?>x&#x1F600;y&#65;<!-- in -->z<![CDATA[]]]]><![CDATA[>]]></r>',
  ],
  ['namespaces redeclared at several depths', '<a xmlns="u1" xmlns:p="u2"><p:b xmlns="u3"><c p:x="1"/></p:b><d xmlns=""/></a>'],
  [
    'a 300 KB WriteCollection',
    `<recipient-collection>${Array.from({ length: 3_000 }, (_, i) => `\n  <recipient email="r${i}@example.com" lastName="N&amp;${i}">note ${i} é😀</recipient>`).join('')}\n</recipient-collection>`,
  ],
];

describe('parseXmlAsync', () => {
  it.each(CORPUS)('when %s is parsed in slices, then the tree is the one parseXml builds', async (_label, xml) => {
    const expected = parseXml(xml);
    for (const sliceLength of xml.length < 10_000 ? [1, 2, 3, 7, 1000, XML_SLICE_LENGTH] : [997, XML_SLICE_LENGTH]) {
      expect(await parseXmlAsync(xml, { sliceLength })).toEqual(expected);
    }
  });

  it.each([
    ['malformed XML', '<a><b></a>', {}],
    ['a DOCTYPE', '<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', {}],
    ['two roots', '<a/>\n<b/>', {}],
    ['an unclosed element ending in half a surrogate pair', '<a>\uD83D', {}],
    ['a breached limit', `<r>${'<x a="1"/>\n'.repeat(100)}</r>`, { maxNodes: 150 }],
  ])('when given %s, then it is refused with the same message as parseXml, whatever the slices', async (_label, xml, limits: Partial<XmlLimits>) => {
    const expected = refusal(xml, limits).message;
    for (const sliceLength of [1, 3, 64]) {
      await expect(parseXmlAsync(xml, { sliceLength, limits })).rejects.toThrow(expected);
    }
  });

  it('when a document is larger than a slice, then other work queued on the event loop runs before the parse ends', async () => {
    const xml = `<r>${'<x a="1"/>'.repeat(30_000)}</r>`; // ~300 KB: 5 slices
    const order: string[] = [];
    setImmediate(() => order.push('other work'));
    await parseXmlAsync(xml).then(() => order.push('parsed'));
    expect(order).toEqual(['other work', 'parsed']);
  });

  it('when a document fits in one slice, then it is parsed without yielding', async () => {
    const order: string[] = [];
    setImmediate(() => order.push('other work'));
    await parseXmlAsync('<r><x/></r>').then(() => order.push('parsed'));
    expect(order).toEqual(['parsed']);
  });

  it('when a limit is breached in the first slice, then the rest of the document is never fed to the parser', async () => {
    let yields = 0;
    const xml = `<r${attributes(2_000)}>${'<x/>'.repeat(100_000)}</r>`;
    const parse = parseXmlAsync(xml, { sliceLength: 16 * 1024, yieldControl: async () => void yields++ });
    await expect(parse).rejects.toThrow(/limit maxAttributesPerElement/);
    expect(yields).toBe(1); // the turn before the first slice; the ~25 slices after it were never parsed
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
    const env = parseXml(
      '<e:Envelope xmlns:e="urn:e" xmlns:xsi="urn:xsi"><e:Body><m:doc xmlns:m="urn:m" xsi:type=""><recipient xtkschema="nms:recipient" email="a@x"><m:loc city="P"/></recipient></m:doc></e:Body></e:Envelope>',
    );
    const doc = env.children[0]!.children[0]!;
    const text = serializeXml(doc, { plain: true });
    expect(text).toBe('<doc><recipient xtkschema="nms:recipient" email="a@x"><loc city="P"/></recipient></doc>');
    expect(parseXml(text).children[0]!.attrs['email']).toBe('a@x');
  });
});
