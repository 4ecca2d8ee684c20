import { parseXml, serializeXml } from '@cap/campaign-xml';
import { elementToJson, queryResultToJson, readQueryDef, readVariables, readWriteDocument } from './workflow-json.xml';

describe('documents between scripts and the data API (SimpleJson ↔ XML)', () => {
  it('when a script gives a queryDef object, then it becomes the <queryDef> the SDK would send', () => {
    const el = readQueryDef({
      json: {
        queryDef: {
          schema: 'nms:recipient',
          operation: 'select',
          lineCount: 10,
          select: { node: [{ expr: '@email' }, { expr: '[location/@city]' }] },
          where: { condition: [{ expr: "@email LIKE '%@x.com'" }] },
        },
      },
    });
    expect(serializeXml(el, { plain: true })).toBe(
      '<queryDef schema="nms:recipient" operation="select" lineCount="10"><select><node expr="@email"/><node expr="[location/@city]"/></select><where><condition expr="@email LIKE &apos;%@x.com&apos;"/></where></queryDef>',
    );
    expect(readQueryDef({ json: { schema: 'xtk:option', operation: 'count' } }).attrs).toEqual({ schema: 'xtk:option', operation: 'count' });
  });

  it('when a script gives a Write document object, then its root is named after the schema; $name and $ are text', () => {
    const el = readWriteDocument(
      {
        json: { xtkschema: 'nms:recipient', _key: '@email', email: 'a@b.c', blackList: true, age: 3, $comment: 'hi', location: { city: 'Paris' }, skip: null },
      },
      'write',
    );
    expect(serializeXml(el, { plain: true })).toBe(
      '<recipient xtkschema="nms:recipient" _key="@email" email="a@b.c" blackList="true" age="3"><comment>hi</comment><location city="Paris"/></recipient>',
    );
    expect(readWriteDocument({ json: { recipient: { xtkschema: 'nms:recipient', email: 'x' } } }, 'write').local).toBe('recipient');
    expect(readWriteDocument({ json: { xtkschema: 'nms:recipient', recipient: [{ email: 'a' }, { email: 'b' }] } }, 'writeCollection').children).toHaveLength(
      2,
    );
    expect(() => readWriteDocument({ json: { email: 'x', name: 'y' } }, 'write')).toThrow(/XTK-170100|does not say which schema/);
    expect(() => readWriteDocument({ xml: '<!DOCTYPE x [<!ENTITY e "x">]><x/>' }, 'write')).toThrow(/DOCTYPE/);
  });

  it('when results come back, then scripts read SimpleJson objects: arrays for select, null for an empty getIfExists', () => {
    const select = parseXml(
      '<recipient-collection><recipient email="a@b.c" id="1"><folder label="F"/></recipient><recipient email="d@e.f" id="2"/></recipient-collection>',
    );
    expect(queryResultToJson(select, 'select', 'recipient')).toEqual({
      recipient: [
        { folder: { label: 'F' }, email: 'a@b.c', id: '1' },
        { email: 'd@e.f', id: '2' },
      ],
    });
    expect(queryResultToJson(parseXml('<recipient-collection/>'), 'select', 'recipient')).toEqual({ recipient: [] });
    expect(queryResultToJson(parseXml('<recipient/>'), 'getIfExists', 'recipient')).toBeNull();
    expect(queryResultToJson(parseXml('<recipient count="3"/>'), 'count', 'recipient')).toEqual({ count: '3' });
    expect(elementToJson(parseXml('<workflow id="1"><activities>text</activities><id>clash</id></workflow>'))).toEqual({
      $activities: 'text',
      $id: 'clash',
      id: '1',
    });
  });

  it('when PostEvent variables are given as an object or as <variables/>, then they become text variables', () => {
    expect(readVariables({ json: { a: 1, b: 'x', c: true, d: { no: 1 } } })).toEqual({ a: '1', b: 'x', c: 'true' });
    expect(readVariables({ xml: '<variables strLine="l1" n="2"/>' })).toEqual({ strLine: 'l1', n: '2' });
    expect(readVariables(null)).toEqual({});
  });
});
