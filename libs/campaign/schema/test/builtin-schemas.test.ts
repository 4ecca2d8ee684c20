import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSchemas, SchemaError, type SchemaSource } from '../src/index';

const BUILTIN = join(__dirname, '..', 'builtin');
const builtinSources = (): SchemaSource[] =>
  readdirSync(BUILTIN)
    .filter((f) => f.endsWith('.xml'))
    .map((file) => ({ file, text: readFileSync(join(BUILTIN, file), 'utf8') }));

describe('built-in schemas', () => {
  const schemas = compileSchemas(builtinSources());

  it('when compiled, then every schema the API needs is there with its placement', () => {
    const placements = Object.fromEntries([...schemas.values()].map((s) => [s.id, s.placement]));
    expect(placements).toMatchObject({
      'xtk:session': 'local',
      'xtk:queryDef': 'local',
      'xtk:option': 'local',
      'xtk:operator': 'local',
      'xtk:folder': 'replicated',
      'xtk:workflow': 'local',
      'nms:recipient': 'cloud',
      'nms:recipientStg': 'staging',
      'nms:service': 'replicated',
      'nms:subscription': 'cloud',
      'nms:subscriptionStg': 'staging',
      'nms:delivery': 'replicated',
      'nms:broadLogRcp': 'cloud',
      'nms:trackingLogRcp': 'cloud',
      'nms:rtEvent': 'local',
      'nms:batchEvent': 'local',
      'nms:replicationStrategy': 'local',
    });
  });

  it('when a cloud schema is staged, then its …Stg schema lives in the local DB with the same fields and keys and no links', () => {
    const recipient = schemas.get('nms:recipient')!;
    const stg = schemas.get('nms:recipientStg')!;
    expect(recipient.stagingSchema).toBe('nms:recipientStg');
    expect(stg.stagingOf).toBe('nms:recipient');
    expect(stg.databases).toEqual(['local']);
    expect(stg.table).toBe('nms_recipient_stg');
    expect(stg.fields.map((f) => f.xpath)).toEqual(recipient.fields.map((f) => f.xpath));
    expect(stg.links).toEqual([]);
    expect(stg.primaryKey).toEqual({ xpath: '@id', column: 'id', kind: 'uuid' });
  });

  it('when keys are generated, then local and replicated schemas get 64-bit sequences and cloud schemas UUIDs', () => {
    expect(schemas.get('xtk:operator')!.primaryKey).toEqual({ xpath: '@id', column: 'id', kind: 'sequence' });
    expect(schemas.get('xtk:folder')!.fields.find((f) => f.xpath === '@id')!.type).toBe('int64');
    expect(schemas.get('nms:recipient')!.fields.find((f) => f.xpath === '@id')!.type).toBe('uuid');
  });

  it('when links are resolved, then N-1 links get a typed foreign key and 1-N links reverse them', () => {
    const recipient = schemas.get('nms:recipient')!;
    const folderFk = recipient.fields.find((f) => f.xpath === '@folder-id')!;
    expect(folderFk).toMatchObject({ column: 'folder_id', type: 'int64' });
    expect(recipient.links.find((l) => l.name === 'folder')).toMatchObject({
      target: 'xtk:folder',
      cardinality: 'single',
      joins: [{ src: '@folder-id', dst: '@id' }],
    });
    expect(recipient.links.find((l) => l.name === 'subscription')).toMatchObject({
      target: 'nms:subscription',
      cardinality: 'collection',
      joins: [{ src: '@id', dst: '@recipient-id' }],
    });
    expect(schemas.get('nms:subscription')!.fields.find((f) => f.xpath === '@recipient-id')!.type).toBe('uuid');
  });

  it("when nms:recipient's country link is resolved, then it joins the location's country code to @isoA2 and adds no foreign key", () => {
    // Campaign's nms:recipient: <element name="country" type="link" target="nms:country"><join xpath-src="location/@countryCode" xpath-dst="@isoA2"/>.
    const recipient = schemas.get('nms:recipient')!;
    expect(recipient.links.find((l) => l.name === 'country')).toMatchObject({
      target: 'nms:country',
      cardinality: 'single',
      joins: [{ src: 'location/@countryCode', dst: '@isoA2' }],
    });
    expect(recipient.fields.filter((f) => /country/i.test(f.xpath)).map((f) => [f.xpath, f.column])).toEqual([
      ['location/@countryCode', 'location_country_code'],
    ]);
    // The staging twin has the same fields and no links; nms:country has a table in the cloud database the join runs in.
    expect(
      schemas
        .get('nms:recipientStg')!
        .fields.filter((f) => /country/i.test(f.xpath))
        .map((f) => f.column),
    ).toEqual(['location_country_code']);
    expect(schemas.get('nms:country')!.databases).toEqual(expect.arrayContaining(['local', 'cloud']));
  });

  it('when nested elements and memo elements are declared, then they become fields with paths and columns', () => {
    const recipient = schemas.get('nms:recipient')!;
    expect(recipient.fields.find((f) => f.xpath === 'location/@city')).toMatchObject({ column: 'location_city', path: ['location'], isElement: false });
    expect(recipient.fields.find((f) => f.xpath === 'comment')).toMatchObject({ column: 'comment', type: 'memo', isElement: true });
    expect(recipient.fields.find((f) => f.xpath === '@created')!.serverManaged).toBe(true);
  });

  it('when API-only schemas are compiled, then they have methods but no table', () => {
    const session = schemas.get('xtk:session')!;
    expect(session.persistent).toBe(false);
    expect(session.databases).toEqual([]);
    expect(session.methods.filter((m) => m.interface === 'persist').map((m) => m.name)).toEqual([
      'NewInstance',
      'Duplicate',
      'Write',
      'WriteCollection',
      'DeleteCollection',
      'GetEntityIfMoreRecent',
    ]);
    expect(
      session.methods
        .find((m) => m.name === 'Logon')!
        .params.filter((p) => p.inout === 'out')
        .map((p) => p.type),
    ).toEqual(['string', 'DOMElement', 'string']);
  });

  it('when a customer extends nms:recipient from their own file, then the new attributes join the schema and its staging copy', () => {
    const ext = {
      file: 'cus-recipient.xml',
      text: `<srcSchema namespace="cus" name="recipient" extendedSchema="nms:recipient">
        <element name="recipient"><attribute name="loyaltyTier" type="string" length="16"/><attribute name="points" type="long"/></element>
      </srcSchema>`,
    };
    const extended = compileSchemas([...builtinSources(), ext]);
    expect(extended.get('nms:recipient')!.fields.map((f) => f.xpath)).toEqual(expect.arrayContaining(['@loyaltyTier', '@points']));
    expect(extended.get('nms:recipientStg')!.fields.map((f) => f.xpath)).toEqual(expect.arrayContaining(['@loyaltyTier', '@points']));
    expect(extended.get('nms:recipient')!.sources).toEqual(['nms-recipient.xml', 'cus-recipient.xml']);
  });
});

describe('malformed schemas', () => {
  function problemsOf(text: string, file = 'bad.xml'): string {
    try {
      compileSchemas([...builtinSources(), { file, text }]);
    } catch (err) {
      expect(err).toBeInstanceOf(SchemaError);
      return (err as Error).message;
    }
    throw new Error('expected a SchemaError');
  }

  it.each([
    [
      'an unknown type',
      '<srcSchema namespace="cus" name="x">\n<element name="x">\n<attribute name="a" type="varchar"/></element></srcSchema>',
      /bad\.xml:3: type: unknown type 'varchar'/,
    ],
    [
      'an unknown link target',
      '<srcSchema namespace="cus" name="x">\n<element name="x" autopk="true">\n<element name="y" type="link" target="cus:nope"/></element></srcSchema>',
      /bad\.xml:3: target: link 'y' targets unknown schema cus:nope/,
    ],
    [
      'a key on a missing field',
      '<srcSchema namespace="cus" name="x">\n<element name="x">\n<key name="k"><keyfield xpath="@nope"/></key><attribute name="a"/></element></srcSchema>',
      /bad\.xml:3: xpath: key 'k' names @nope/,
    ],
    ['a bad boolean', '<srcSchema namespace="cus" name="x">\n<element name="x" autopk="yes"/></srcSchema>', /bad\.xml:2: autopk: 'yes' is not true or false/],
    [
      'a bad defOnDuplicate',
      '<srcSchema namespace="cus" name="x">\n<element name="x">\n<attribute name="a" defOnDuplicate="maybe"/></element></srcSchema>',
      /bad\.xml:3: defOnDuplicate: 'maybe' is not true or false/,
    ],
    [
      'autoStg on a local schema',
      '<srcSchema namespace="cus" name="x" placement="local">\n<element name="x" autopk="true" autoStg="true"><attribute name="a"/></element></srcSchema>',
      /bad\.xml:2: autoStg: staging is only for cloud schemas/,
    ],
    [
      'a link joined on a field of another type',
      '<srcSchema namespace="cus" name="x">\n<element name="x" autopk="true"><attribute name="code" type="long"/>\n<element name="c" type="link" target="nms:country"><join xpath-src="@code" xpath-dst="@isoA2"/></element></element></srcSchema>',
      /bad\.xml:3: xpath-src: link 'c' joins @code \(long\) to @isoA2 of nms:country \(string\)/,
    ],
    [
      'a link joined on an element path that is not a field',
      '<srcSchema namespace="cus" name="x">\n<element name="x" autopk="true">\n<element name="c" type="link" target="nms:country"><join xpath-src="location/@code" xpath-dst="@isoA2"/></element></element></srcSchema>',
      /bad\.xml:3: xpath-src: 'location\/@code' must be an attribute of cus:x/,
    ],
    ['broken XML', '<srcSchema namespace="cus" name="x">\n<element name="x">\n</srcSchema>', /bad\.xml:3: not well-formed XML/],
    [
      'an extension of an unknown schema',
      '<srcSchema namespace="cus" name="x" extendedSchema="nms:nope"><element name="x"/></srcSchema>',
      /bad\.xml:1: extendedSchema: extends unknown schema nms:nope/,
    ],
    [
      'an unknown enumeration',
      '<srcSchema namespace="cus" name="x">\n<element name="x">\n<attribute name="a" type="byte" enum="nope"/></element></srcSchema>',
      /bad\.xml:3: enum: unknown enumeration 'nope'/,
    ],
    [
      'a capitalised parameter type',
      '<srcSchema namespace="cus" name="x"><element name="x"/><methods>\n<method name="M"><parameters>\n<param name="p" type="Boolean"/></parameters></method></methods></srcSchema>',
      /bad\.xml:3: type: unknown parameter type 'Boolean'/,
    ],
  ])('when a schema has %s, then compiling fails naming file, line and attribute', (_label, text, expected) => {
    expect(problemsOf(text)).toMatch(expected);
  });

  it('when several files have problems, then all of them are reported at once', () => {
    let message = '';
    try {
      compileSchemas([
        { file: 'a.xml', text: '<srcSchema namespace="cus" name="a"><element name="a"><attribute name="x" type="nope"/></element></srcSchema>' },
        { file: 'b.xml', text: '<srcSchema namespace="cus" name="b"><element name="b" autoStg="maybe"/></srcSchema>' },
      ]);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('a.xml:1: type:');
    expect(message).toContain('b.xml:1: autoStg:');
  });
});

describe('SQL names', () => {
  it("when a schema names its table and columns in Campaign's mixed case, then they are folded to lower case as PostgreSQL folds unquoted names", () => {
    const schemas = compileSchemas([
      ...builtinSources(),
      {
        file: 'cus.xml',
        text: '<srcSchema namespace="cus" name="shop"><element name="shop" autopk="true" sqltable="CusShop"><key name="code"><keyfield xpath="@code"/></key><attribute name="code" type="string" sqlname="sCode"/></element></srcSchema>',
      },
    ]);
    const shop = schemas.get('cus:shop')!;
    expect(shop.table).toBe('cusshop');
    expect(shop.fields.find((f) => f.xpath === '@code')!.column).toBe('scode');
  });
});
