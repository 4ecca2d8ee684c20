import { compileSchemas } from '@cap/campaign-schema';
import { element, serializeXml } from '@cap/campaign-xml';
import {
  clashCondition,
  clashingKeys,
  copiedFields,
  duplicateDocument,
  entityPk,
  MAX_NEW_IDS,
  MAX_REPORTED_ENTITIES,
  missingCounterFields,
  modifiedEntitiesDocument,
  newIdsProblem,
  newInstanceDocument,
  renamedCandidates,
  xtkString,
} from './lifecycle.documents';

const schemas = compileSchemas([
  {
    file: 'cus-ticket.xml',
    text: `<srcSchema namespace="cus" name="ticket" implements="xtk:persist" placement="local">
  <enumeration name="status" basetype="long"><value name="open" value="0"/><value name="closed" value="9"/></enumeration>
  <element name="ticket" autopk="true">
    <key name="code"><keyfield xpath="@code"/></key>
    <key name="login"><keyfield xpath="@login"/></key>
    <key name="place"><keyfield xpath="@site"/><keyfield xpath="@slot"/></key>
    <key name="pair"><keyfield xpath="@site"/><keyfield xpath="@sent"/></key>
    <key name="tag"><keyfield xpath="@slot"/><keyfield xpath="@label"/></key>
    <attribute name="code" type="string" length="64" default="'TK'+CounterValue('DeliveryId')" defOnDuplicate="true"/>
    <attribute name="login" type="string" length="8"/>
    <attribute name="label" type="string" length="64"/>
    <attribute name="site" type="long"/>
    <attribute name="slot" type="string" length="16"/>
    <attribute name="status" type="long" enum="status" default="open" defOnDuplicate="true"/>
    <attribute name="sent" type="long" defOnDuplicate="true"/>
    <attribute name="lastModified" type="datetime"/>
    <element name="desc" type="memo"/>
    <element name="mail"><attribute name="subject" type="string" length="64"/></element>
  </element>
</srcSchema>`,
  },
  {
    file: 'cus-gadget.xml',
    text: `<srcSchema namespace="cus" name="gadget" implements="xtk:persist" placement="local">
  <enumeration name="colour" basetype="byte"><value name="red" value="1" label="Red"/><value name="blue" value="2" label="Blue"/></enumeration>
  <element name="gadget" autopk="true">
    <attribute name="code" type="string" length="64"/>
    <attribute name="size" type="long" default="3"/>
    <attribute name="title" type="string" length="64" default="brand new"/>
    <attribute name="colour" type="byte" enum="colour" default="blue"/>
    <attribute name="flag" type="boolean" default="1"/>
    <attribute name="seen" type="datetime" default="GetDate()"/>
    <attribute name="created" type="datetime"/>
    <element name="box"><attribute name="weight" type="long" default="7"/></element>
  </element>
</srcSchema>`,
  },
]);
const gadget = schemas.get('cus:gadget')!;
const ticket = schemas.get('cus:ticket')!;

describe('newIdsProblem', () => {
  it('when the count is a whole number within the bounds and the sequence known, then nothing is wrong', () => {
    expect(newIdsProblem(1, 'XtkNewId')).toBeUndefined();
    expect(newIdsProblem(MAX_NEW_IDS, 'xtknewid')).toBeUndefined();
  });

  it.each([['NmsRecipientId'], ['nmsrecipientid'], ['NmsBroadLogId'], ['NmsTrackingLogId']])(
    'when the sequence is %p of a default install, then it is known',
    (name) => {
      expect(newIdsProblem(1, name)).toBeUndefined();
    },
  );

  it.each([[0], [-1], [MAX_NEW_IDS + 1], [1.5], [Number.MAX_VALUE], [undefined], ['5']])('when the count is %p, then the count is refused', (count) => {
    expect(newIdsProblem(count, 'XtkNewId')).toMatchObject({ param: 'count' });
  });

  it('when the sequence is unknown, then the sequence is refused', () => {
    expect(newIdsProblem(1, 'NmsDeliveryId')).toMatchObject({ param: 'sequence', why: "unknown sequence 'NmsDeliveryId'" });
    expect(newIdsProblem(1, '__proto__')).toMatchObject({ param: 'sequence' });
    expect(newIdsProblem(1, 'NmsRecipientId ')).toMatchObject({ param: 'sequence' });
  });
});

describe('newInstanceDocument', () => {
  it('when the caller gives some values, then they are kept and the defaults (not GetDate(), not server-set fields), the id and the insert operation are added', () => {
    const given = element('gadget', { xtkschema: 'cus:gadget', code: 'g1', size: '9' });
    const doc = newInstanceDocument(gadget, given, '42');
    expect(serializeXml(doc, { plain: true })).toBe(
      `<gadget xtkschema="cus:gadget" code="g1" size="9" title="brand new" colour="2" flag="true" id="42" _operation="insert"><box weight="7"/></gadget>`,
    );
    // The request is not changed.
    expect(given.attrs).toEqual({ xtkschema: 'cus:gadget', code: 'g1', size: '9' });
  });

  it('when the caller gives a nested value or an id, then the nested value stays and the id is the new one', () => {
    const doc = newInstanceDocument(gadget, element('gadget', { id: '7' }, [element('box', { weight: '1' })]), '43');
    expect(doc.attrs['id']).toBe('43');
    expect(doc.children).toEqual([expect.objectContaining({ local: 'box', attrs: { weight: '1' } })]);
  });

  it('when there is no document, then one is made, named after the schema', () => {
    expect(newInstanceDocument(gadget, undefined, '1').local).toBe('gadget');
  });
});

describe('counter defaults in NewInstance', () => {
  it('when a counter default is missing or empty, then it is to be generated and the generated value is used; a given value is kept', () => {
    expect(missingCounterFields(ticket, element('ticket', {})).map((c) => [c.field.xpath, c.prefix, c.counter])).toEqual([['@code', 'TK', 'DeliveryId']]);
    expect(missingCounterFields(ticket, element('ticket', { code: '' }))).toHaveLength(1);
    expect(missingCounterFields(ticket, element('ticket', { code: 'mine' }))).toEqual([]);
    const doc = newInstanceDocument(ticket, element('ticket', { code: '' }), '5', new Map([['@code', 'TK12']]));
    expect(doc.attrs).toMatchObject({ code: 'TK12', status: '0', id: '5', _operation: 'insert' });
    // The expression itself is never a value.
    expect(serializeXml(newInstanceDocument(ticket, undefined, '6'), { plain: true })).not.toContain('CounterValue');
  });
});

describe('xtkString', () => {
  it('when a value becomes an XTK string, then quotes and backslashes cannot end it', () => {
    expect(xtkString("it's")).toBe("'it\\'s'");
    expect(xtkString('a\\')).toBe("'a\\\\'");
  });
});

describe('entityPk', () => {
  it('when the key names the schema and a number, then its value is read', () => {
    expect(entityPk(ticket, 'cus:ticket|1610')).toEqual({ value: '1610' });
    expect(entityPk(ticket, ' cus:ticket | 7 ')).toEqual({ value: '7' });
  });

  it.each([
    [undefined],
    [''],
    ['1610'],
    ['cus:gadget|1'],
    ['cus:ticket|'],
    ['cus:ticket|abc'],
    ['cus:ticket|1 OR 1=1'],
    ['cus:ticket|99999999999999999999'],
    ['cus:ticket|1|2'],
  ])('when the key is %p, then it is refused with a reason', (pk) => {
    expect(entityPk(ticket, pk)).toEqual({ bad: expect.any(String) });
  });
});

describe('duplicateDocument', () => {
  const original = element('ticket', { id: '3', code: 'TK3', login: 'webapp', label: "It's", status: '9', sent: '40', lastModified: '2026-01-01' }, [
    element('desc', {}, [], 'A description'),
    element('mail', { subject: 'Hello' }),
  ]);

  it('when a record is duplicated, then its fields are copied; the key, the server-set and the defOnDuplicate fields are not', () => {
    expect(copiedFields(ticket).map((f) => f.xpath)).toEqual(['@login', '@label', '@site', '@slot', 'desc', 'mail/@subject']);
    const doc = duplicateDocument(ticket, original, '11', new Map([['@code', 'TK12']]), new Map([['@login', 'webapp_1']]));
    expect(serializeXml(doc, { plain: true })).toBe(
      `<ticket login="webapp_1" label="It&apos;s" code="TK12" status="0" id="11" xtkschema="cus:ticket" _operation="insert"><desc>A description</desc><mail subject="Hello"/></ticket>`,
    );
  });

  it('when a value is empty in the original, then the copy leaves it out', () => {
    const doc = duplicateDocument(ticket, element('ticket', { login: '', label: 'x' }), '12', new Map(), new Map());
    expect(doc.attrs).not.toHaveProperty('login');
    expect(doc.attrs['label']).toBe('x');
  });

  it('when a key is copied, then it is one to rename; a key reset by defOnDuplicate is not', () => {
    // place (site, slot): slot is renamed within its site; pair (site, sent): sent is reset, so no clash; code is reset;
    // tag (slot, label): the last string, label, is renamed within its slot.
    expect(clashingKeys(ticket).map((k) => [k.field.xpath, k.scope.map((f) => f.xpath)])).toEqual([
      ['@login', []],
      ['@slot', ['@site']],
      ['@label', ['@slot']],
    ]);
  });

  it("when a clash is looked for, then the candidates are matched within the values of the key's other fields", () => {
    const [login, slot] = clashingKeys(ticket);
    expect(clashCondition(login!.field, ['a_1', "it's_2"], [])).toBe("(@login = 'a_1' OR @login = 'it\\'s_2')");
    const site = slot!.scope[0]!;
    expect(clashCondition(slot!.field, ['s_1'], [{ field: site, value: '12' }])).toBe("(@slot = 's_1') AND @site = 12");
    // No site: NULLs never clash in a unique index. A site that is not a number is not compared.
    expect(clashCondition(slot!.field, ['s_1'], [{ field: site, value: undefined }])).toBeUndefined();
    expect(clashCondition(slot!.field, ['s_1'], [{ field: site, value: '1 OR 1=1' }])).toBeUndefined();
  });

  it('when a renamed value would not fit its column, then its base is cut so the suffix fits', () => {
    expect(renamedCandidates('webapp', 64, 3)).toEqual(['webapp_1', 'webapp_2', 'webapp_3']);
    expect(renamedCandidates('abcdefgh', 8, 1)).toEqual(['abcdef_1']);
    expect(renamedCandidates('abcdefgh', 8, 10)[9]).toBe('abcde_10');
  });
});

describe('modifiedEntitiesDocument', () => {
  const request = (attrs: Record<string, string>) => ({
    ...element('cache', attrs, [{ ...element('xtk:schema'), prefix: 'xtk', local: 'schema', ns: 'urn:xtk:schema' }]),
  });
  const now = Date.parse('2024-05-01T10:00:00.000Z');
  const versions = new Map([
    ['cus:old', { md5: 'A'.repeat(32), lastModified: now - 60_000 }],
    ['cus:new', { md5: 'B'.repeat(32), lastModified: now - 1_000 }],
  ]);
  const answer = (attrs: Record<string, string>, schemas = versions) =>
    modifiedEntitiesDocument({ request: request(attrs), buildNumber: '9400', now, schemas });

  it('when the client has no time yet, then only the build number and the time are answered', () => {
    expect(serializeXml(answer({}) as never, { plain: true })).toBe('<cache buildNumber="9400" time="2024-05-01T10:00:00.000Z"/>');
  });

  it('when schemas changed after the time the client sends, then exactly those are listed', () => {
    const doc = answer({ buildNumber: '9400', lastModified: new Date(now - 10_000).toISOString() }) as ReturnType<typeof element>;
    expect(doc.children.map((c) => c.attrs)).toEqual([
      { lastModified: '2024-05-01 09:59:59.000Z', md5: 'B'.repeat(32), pk: 'xtk:schema|cus:new', schema: 'xtk:schema' },
    ]);
    expect(doc.attrs['emptyCache']).toBeUndefined();
  });

  it('when the build number differs, then the client is told to empty its cache', () => {
    expect((answer({ buildNumber: '9300', lastModified: new Date(now).toISOString() }) as ReturnType<typeof element>).attrs['emptyCache']).toBe('true');
  });

  it('when more schemas changed than are listed one by one, then the client is told to empty its cache', () => {
    const many = new Map(Array.from({ length: MAX_REPORTED_ENTITIES + 1 }, (_, i) => [`cus:s${i}`, { md5: 'C'.repeat(32), lastModified: now }] as const));
    const doc = answer({ buildNumber: '9400', lastModified: new Date(now - 1).toISOString() }, many) as ReturnType<typeof element>;
    expect(doc.attrs['emptyCache']).toBe('true');
    expect(doc.children).toEqual([]);
  });

  it('when only options are asked about, then no schema is listed', () => {
    const options = { ...element('xtk:option'), prefix: 'xtk', local: 'option', ns: 'urn:xtk:option' };
    const doc = modifiedEntitiesDocument({
      request: element('cache', { lastModified: new Date(0).toISOString() }, [options]),
      buildNumber: '9400',
      now,
      schemas: versions,
    });
    expect((doc as ReturnType<typeof element>).children).toEqual([]);
  });

  it('when lastModified is not a date, then the request is refused', () => {
    expect(answer({ lastModified: 'yesterday' })).toEqual({ bad: "lastModified 'yesterday' is not a date" });
  });
});
