import { serializeXml } from '@cap/campaign-xml';
import { compileBuiltinSchemas } from '../test/builtin-schemas.fixture';
import { compileQueryDef } from './query-def.compiler';
import type { SimpleJsonQueryDef } from './query-def.model';
import { QueryError } from './query.error';
import { shapeRowsAsObjects } from './result-object.shaper';
import { createResultBuilder, createResultTextBuilder, shapeRows } from './result.shaper';

// Adobe's client turns result XML into SimpleJson objects with DomUtil: our objects must be what it makes.
const { DomUtil } = require('@adobe/acc-js-sdk') as { DomUtil: { parse(xml: string): unknown; toJSON(doc: unknown, flavor: string): unknown } };
const sdkObject = (xml: string) => DomUtil.toJSON(DomUtil.parse(xml), 'SimpleJson');

const schemas = compileBuiltinSchemas();
const shapeOf = (q: SimpleJsonQueryDef) => compileQueryDef(q, schemas).shape;

const RECIPIENT_SELECT = {
  schema: 'nms:recipient',
  select: {
    node: [
      { expr: '@id' },
      { expr: '@email' },
      { expr: '[location/@city]' },
      { expr: '[location/@zipCode]', alias: '@zip' },
      { expr: '[folder/@label]' },
      { expr: '@blackList' },
      { expr: '@created' },
      { expr: '@birthDate' },
      { expr: '@gender', analyze: true },
      { expr: 'comment' },
      { expr: '[@folder-id]' },
    ],
  },
};

// Rows as node-postgres returns them: int8 as text, timestamptz as Date, date as local-midnight Date.
const ROWS = [
  {
    c0: '7e1b2c9a-0000-4000-8000-000000000001',
    c1: 'ann@example.com',
    c2: 'Paris',
    c3: '75001',
    c4: 'Customers',
    c5: false,
    c6: new Date('2022-09-26T03:13:36.48Z'),
    c7: new Date(1990, 4, 17),
    c8: 2,
    c9: 'Met at <the> "fair" & liked it',
    c10: '9007199254740993',
  },
  { c0: '7e1b2c9a-0000-4000-8000-000000000002', c1: 'bob@example.com', c2: null, c3: null, c4: null, c5: true, c6: null, c7: null, c8: 9, c9: null, c10: null },
];

describe('shapeRows and shapeRowsAsObjects', () => {
  it('when a select returns rows, then each is an element named after the schema, values formatted, paths nested, NULLs omitted', () => {
    const shape = shapeOf(RECIPIENT_SELECT);
    expect(serializeXml(shapeRows(shape, ROWS))).toBe(
      '<recipient-collection>' +
        '<recipient id="7e1b2c9a-0000-4000-8000-000000000001" email="ann@example.com" zip="75001" blackList="false" created="2022-09-26 03:13:36.480Z" birthDate="1990-05-17" gender="2" genderName="female" genderLabel="Female" folder-id="9007199254740993">' +
        '<location city="Paris"/><folder label="Customers"/><comment>Met at &lt;the&gt; "fair" &amp; liked it</comment></recipient>' +
        '<recipient id="7e1b2c9a-0000-4000-8000-000000000002" email="bob@example.com" blackList="true" gender="9"/>' +
        '</recipient-collection>',
    );
    expect(shapeRowsAsObjects(shape, ROWS)).toEqual({
      recipient: [
        {
          id: '7e1b2c9a-0000-4000-8000-000000000001',
          email: 'ann@example.com',
          location: { city: 'Paris' },
          zip: '75001',
          folder: { label: 'Customers' },
          blackList: 'false',
          created: '2022-09-26 03:13:36.480Z',
          birthDate: '1990-05-17',
          gender: '2',
          genderName: 'female',
          genderLabel: 'Female',
          $comment: 'Met at <the> "fair" & liked it',
          'folder-id': '9007199254740993',
        },
        { id: '7e1b2c9a-0000-4000-8000-000000000002', email: 'bob@example.com', blackList: 'true', gender: '9' },
      ],
    });
  });

  it('when a select returns no rows, then the collection element is empty and the object holds an empty array', () => {
    const shape = shapeOf(RECIPIENT_SELECT);
    expect(serializeXml(shapeRows(shape, []))).toBe('<recipient-collection/>');
    expect(shapeRowsAsObjects(shape, [])).toEqual({ recipient: [] });
  });

  it('when get finds a row, then the result is the row element itself', () => {
    const shape = shapeOf({ ...RECIPIENT_SELECT, operation: 'get' });
    expect(serializeXml(shapeRows(shape, [ROWS[1]!]))).toBe(
      '<recipient id="7e1b2c9a-0000-4000-8000-000000000002" email="bob@example.com" blackList="true" gender="9"/>',
    );
    expect(shapeRowsAsObjects(shape, [ROWS[1]!])).toEqual({
      id: '7e1b2c9a-0000-4000-8000-000000000002',
      email: 'bob@example.com',
      blackList: 'true',
      gender: '9',
    });
  });

  it('when get finds nothing, then both shapers raise XSV-350122 naming the schema', () => {
    const shape = shapeOf({ ...RECIPIENT_SELECT, operation: 'get' });
    for (const shaper of [shapeRows, shapeRowsAsObjects]) {
      let err: unknown;
      try {
        shaper(shape, []);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(QueryError);
      expect(err).toMatchObject({
        code: 'XSV-350122',
        kind: 'no-record',
        message: "XSV-350122 No record found for query on 'nms:recipient'",
        soapFaultCode: 'SOAP-ENV:Server',
      });
    }
  });

  it('when getIfExists finds a row with NULLs, then every selected value is still written (empty), so the SDK sees a record', () => {
    const shape = shapeOf({ ...RECIPIENT_SELECT, operation: 'getIfExists' });
    expect(serializeXml(shapeRows(shape, [ROWS[1]!]))).toBe(
      '<recipient id="7e1b2c9a-0000-4000-8000-000000000002" email="bob@example.com" zip="" blackList="true" created="" birthDate="" gender="9" genderName="" genderLabel="" folder-id="">' +
        '<location city=""/><folder label=""/><comment/></recipient>',
    );
    expect(shapeRowsAsObjects(shape, [ROWS[1]!])).toEqual({
      id: '7e1b2c9a-0000-4000-8000-000000000002',
      email: 'bob@example.com',
      location: { city: '' },
      zip: '',
      folder: { label: '' },
      blackList: 'true',
      created: '',
      birthDate: '',
      gender: '9',
      genderName: '',
      genderLabel: '',
      comment: {},
      'folder-id': '',
    });
  });

  it('when getIfExists finds nothing, then the element is empty and the object is null', () => {
    const shape = shapeOf({ ...RECIPIENT_SELECT, operation: 'getIfExists' });
    expect(serializeXml(shapeRows(shape, []))).toBe('<recipient/>');
    expect(shapeRowsAsObjects(shape, [])).toBeNull();
  });

  it('when a count is shaped, then the row element carries count as a string', () => {
    const shape = shapeOf({ schema: 'nms:service', operation: 'count' });
    expect(serializeXml(shapeRows(shape, [{ c0: '3' }]))).toBe('<service count="3"/>');
    expect(shapeRowsAsObjects(shape, [{ c0: '3' }])).toEqual({ count: '3' });
  });

  it('when rows come positionally (rowMode array), then the result is the same', () => {
    const shape = shapeOf(RECIPIENT_SELECT);
    const arrays = ROWS.map((r) => Object.values(r));
    expect(shapeRows(shape, arrays)).toEqual(shapeRows(shape, ROWS));
    expect(shapeRowsAsObjects(shape, arrays)).toEqual(shapeRowsAsObjects(shape, ROWS));
  });

  it('when an alias takes the name of a nested element, then the object prefixes the attribute with @ as the SDK does', () => {
    const shape = shapeOf({
      schema: 'nms:recipient',
      operation: 'get',
      select: { node: [{ expr: '[location/@city]' }, { expr: '@email', alias: '@location' }] },
    });
    const rows = [{ c0: 'Paris', c1: 'ann@example.com' }];
    expect(serializeXml(shapeRows(shape, rows))).toBe('<recipient location="ann@example.com"><location city="Paris"/></recipient>');
    expect(shapeRowsAsObjects(shape, rows)).toEqual({ location: { city: 'Paris' }, '@location': 'ann@example.com' });
  });

  it.each([
    ['select', ROWS],
    ['get', [ROWS[0]!]],
    ['getIfExists', [ROWS[1]!]],
    ['getIfExists', [ROWS[0]!]],
  ] as const)('when the %s result XML is read by the SDK (DomUtil.toJSON SimpleJson), then it equals shapeRowsAsObjects', (operation, rows) => {
    const shape = shapeOf({ ...RECIPIENT_SELECT, operation });
    expect(sdkObject(serializeXml(shapeRows(shape, rows)))).toEqual(shapeRowsAsObjects(shape, rows));
  });

  it('when a value holds characters XML cannot carry raw, then the XML escapes them and the object keeps them', () => {
    const shape = shapeOf({ schema: 'nms:recipient', operation: 'get', select: { node: { expr: '@lastName' } } });
    const rows = [{ c0: `O'Brien <"&">\n\ttab` }];
    const xml = serializeXml(shapeRows(shape, rows));
    expect(xml).toBe('<recipient lastName="O&apos;Brien &lt;&quot;&amp;&quot;&gt;&#10;&#9;tab"/>');
    expect(sdkObject(xml)).toEqual(shapeRowsAsObjects(shape, rows));
  });

  it.each([
    ['select', ROWS],
    ['select', []],
    ['get', ROWS],
    ['getIfExists', []],
    ['getIfExists', ROWS],
    ['count', [{ c0: '42' }]],
  ] as const)('when %s rows arrive in chunks (a cursor), then the result builders make the same document (and text) as shapeRows', (operation, rows) => {
    const shape = shapeOf({ ...RECIPIENT_SELECT, operation });
    const builder = createResultBuilder(shape);
    const text = createResultTextBuilder(shape);
    for (const b of [builder, text]) {
      b.add([]);
      for (const row of rows) b.add([row]);
    }
    expect(serializeXml(builder.build())).toBe(serializeXml(shapeRows(shape, rows)));
    expect(text.build()).toBe(serializeXml(shapeRows(shape, rows)));
  });

  it('when a get receives no row from its chunks, then it fails as shapeRows does (XSV-350122)', () => {
    const builder = createResultBuilder(shapeOf({ ...RECIPIENT_SELECT, operation: 'get' }));
    builder.add([]);
    expect(() => builder.build()).toThrow(QueryError);
  });
});
