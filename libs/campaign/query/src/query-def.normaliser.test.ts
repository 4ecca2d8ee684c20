import { parseXml } from '@cap/campaign-xml';
import { thrownBy } from '../test/thrown.fixture';
import { normaliseQueryDef } from './query-def.normaliser';
import { QueryError } from './query.error';

// The request of docs/campaign-api.md#executequery, as the SDK sends it (xml) and as a caller writes it (SimpleJson).
const SDK_XML = `<queryDef schema="nms:recipient" operation="select" lineCount="10" startLine="0" xtkschema="xtk:queryDef">
  <select><node expr="@email"/><node expr="@id"/><node expr="[location/@city]" alias="@city"/></select>
  <where><condition expr="@email = 'a@x.com'" boolOperator="OR"/><condition expr="@email = 'b@x.com'"/></where>
  <orderBy><node expr="@email" sortDesc="true"/></orderBy>
</queryDef>`;

const SDK_JSON = {
  schema: 'nms:recipient',
  operation: 'select',
  lineCount: 10,
  startLine: 0,
  xtkschema: 'xtk:queryDef',
  select: { node: [{ expr: '@email' }, { expr: '@id' }, { expr: '[location/@city]', alias: '@city' }] },
  where: { condition: [{ expr: "@email = 'a@x.com'", boolOperator: 'OR' }, { expr: "@email = 'b@x.com'" }] },
  orderBy: { node: { expr: '@email', sortDesc: true } },
};

function failure(input: Parameters<typeof normaliseQueryDef>[0]): QueryError {
  return thrownBy(QueryError, () => normaliseQueryDef(input));
}

describe('normaliseQueryDef', () => {
  it('when the same query comes as XML and as SimpleJson (single nodes as objects), then both give one model', () => {
    const fromXml = normaliseQueryDef(parseXml(SDK_XML));
    expect(normaliseQueryDef(SDK_JSON)).toEqual(fromXml);
    expect(fromXml).toEqual({
      normalised: true,
      schema: 'nms:recipient',
      operation: 'select',
      distinct: false,
      lineCount: 10,
      startLine: 0,
      select: [
        { expr: '@email', analyze: false, groupBy: false },
        { expr: '@id', analyze: false, groupBy: false },
        { expr: '[location/@city]', alias: '@city', analyze: false, groupBy: false },
      ],
      where: [
        { expr: "@email = 'a@x.com'", boolOperator: 'OR', conditions: [] },
        { expr: "@email = 'b@x.com'", boolOperator: 'AND', conditions: [] },
      ],
      orderBy: [{ expr: '@email', sortDesc: true }],
      groupBy: [],
      having: [],
    });
  });

  it('when conditions nest, use bool-operator, set operators and sub-queries, then the structure is kept', () => {
    const q = normaliseQueryDef(
      parseXml(`<queryDef schema="nms:recipient" operation="getIfExists">
        <select><node expr="@gender" analyze="true"/><node expr="Count(@id)" groupBy="1"/></select>
        <where>
          <condition bool-operator="or"><condition expr="@a = 1"/><condition expr="@b = 2"/></condition>
          <condition expr="subscription" setOperator="exists"><condition expr="@x = 1"/></condition>
          <condition expr="@id" setOperator="NOT  IN"><subQuery schema="nms:subscription"><select><node expr="[@recipient-id]"/></select><where><condition expr="[../@id] = 1"/></where></subQuery></condition>
          <condition expr="@ignored = 1" ignore="true"/>
        </where>
        <groupBy><node expr="@gender"/></groupBy>
        <having><condition expr="Count(@id) &gt; 1"/></having>
      </queryDef>`),
    );
    expect(q.operation).toBe('getIfExists');
    expect(q.select).toEqual([
      { expr: '@gender', analyze: true, groupBy: false },
      { expr: 'Count(@id)', analyze: false, groupBy: true },
    ]);
    expect(q.where).toEqual([
      {
        boolOperator: 'OR',
        conditions: [
          { expr: '@a = 1', boolOperator: 'AND', conditions: [] },
          { expr: '@b = 2', boolOperator: 'AND', conditions: [] },
        ],
      },
      { expr: 'subscription', boolOperator: 'AND', setOperator: 'EXISTS', conditions: [{ expr: '@x = 1', boolOperator: 'AND', conditions: [] }] },
      {
        expr: '@id',
        boolOperator: 'AND',
        setOperator: 'NOT IN',
        conditions: [],
        subQuery: {
          schema: 'nms:subscription',
          select: [{ expr: '[@recipient-id]', analyze: false, groupBy: false }],
          where: [{ expr: '[../@id] = 1', boolOperator: 'AND', conditions: [] }],
          groupBy: [],
          having: [],
        },
      },
    ]);
    expect(q.groupBy).toEqual(['@gender']);
    expect(q.having).toEqual([{ expr: 'Count(@id) > 1', boolOperator: 'AND', conditions: [] }]);
  });

  it('when no operation is given, then it is a select; operation names are matched case-insensitively', () => {
    expect(normaliseQueryDef({ schema: 'nms:recipient' }).operation).toBe('select');
    expect(normaliseQueryDef({ schema: 'nms:recipient', operation: 'GETIFEXISTS' }).operation).toBe('getIfExists');
  });

  it('when an already normalised query is given, then it is returned as is', () => {
    const q = normaliseQueryDef(SDK_JSON);
    expect(normaliseQueryDef(q)).toBe(q);
  });

  it.each([
    [{ operation: 'select' }, "XTK-170036 queryDef needs a 'schema' attribute (such as 'nms:recipient')"],
    [{ schema: 'recipient' }, "XTK-170036 queryDef: 'recipient' is not a schema id (namespace:name)"],
    [{ schema: 'nms:recipient', operation: 'update' }, "XTK-170036 queryDef operation 'update' is not supported (select, get, getIfExists, count)"],
    [{ schema: 'nms:recipient', lineCount: -1 }, "XTK-170036 queryDef 'lineCount' must be a whole number ≥ 0, not '-1'"],
    [{ schema: 'nms:recipient', lineCount: '10; DROP' }, "XTK-170036 queryDef 'lineCount' must be a whole number ≥ 0, not '10; DROP'"],
    [{ schema: 'nms:recipient', select: { node: { expr: '@a', sql: 'now()' } } }, "XTK-170036 select node: native SQL ('sql' attribute) is not allowed"],
    [{ schema: 'nms:recipient', where: { condition: { sql: '1=1' } } }, "XTK-170036 condition: native SQL ('sql' attribute) is not allowed"],
    [
      { schema: 'nms:recipient', where: { condition: { expr: '@a = 1', enabledIf: '$(x)' } } },
      "XTK-170036 condition: 'enabledIf' (template parameters) is not supported",
    ],
    [
      { schema: 'nms:recipient', where: { condition: { expr: '@a = 1', boolOperator: 'XOR' } } },
      "XTK-170036 condition '@a = 1': boolOperator must be AND or OR, not 'XOR'",
    ],
    [
      { schema: 'nms:recipient', where: { condition: { expr: 'x', setOperator: 'ANY' } } },
      "XTK-170036 condition 'x': setOperator must be EXISTS, NOT EXISTS, IN or NOT IN, not 'ANY'",
    ],
    [
      { schema: 'nms:recipient', where: { condition: { expr: '@id', subQuery: { schema: 'nms:subscription' } } } },
      "XTK-170036 condition '@id': a subQuery needs setOperator (EXISTS, NOT EXISTS, IN or NOT IN)",
    ],
    [
      { schema: 'nms:recipient', select: { node: { expr: 'subscription', node: [{ expr: '@id' }] } } },
      "XTK-170036 select node 'subscription': nested collections (child nodes under a collection link) are not supported",
    ],
    [
      { schema: 'nms:recipient', select: { node: { expr: '@a', alias: '../@x' } } },
      "XTK-170036 select node '@a': alias '../@x' must be an attribute name such as '@city'",
    ],
    [{ schema: 'nms:recipient', select: { node: { expr: { x: 1 } } } }, "XTK-170036 queryDef attribute 'expr' must be a string, a number or a boolean"],
    [{ schema: 'nms:recipient', select: { node: ['@email'] } }, "XTK-170036 queryDef element 'node' must be an object"],
    [
      { schema: 'nms:recipient', orderBy: { node: { expr: '@a', sortDesc: 'maybe' } } },
      "XTK-170036 orderBy node: 'sortDesc' must be true or false, not 'maybe'",
    ],
  ])('when the queryDef is %j, then it is refused: %s', (input, message) => {
    const err = failure(input);
    expect(err.message).toBe(message);
    expect(err.code).toBe('XTK-170036');
  });

  it('when conditions nest deeper than 32 levels (SimpleJson has no XML depth limit), then it is refused', () => {
    let condition: Record<string, unknown> = { expr: '@a = 1' };
    for (let i = 0; i < 40; i++) condition = { condition };
    expect(failure({ schema: 'nms:recipient', where: { condition } }).message).toBe('XTK-170036 conditions nested deeper than 32 levels');
  });
});
