import { compileQueryDef } from '@cap/campaign-query';
import { element, parseXml, serializeXml } from '@cap/campaign-xml';
import { compileBuiltinSchemas } from '../test/builtin-schemas.fixture';
import { bindWhereVariables, escapeXtkString, findVariableRefs, substituteVariables, variableLookup } from './workflow-query.variables';

const lookup = variableLookup({ email: "o'neil\\x@example.com", min: 18, zip: '01234', empty: '' }, { city: 'Paris', batch: 'B7' });

describe('workflow variables in query conditions', () => {
  it('when a variable sits inside a string literal, then its value is written into the literal, escaped', () => {
    expect(substituteVariables("@email = '$(vars/@email)'", lookup)).toEqual({ expr: "@email = 'o\\'neil\\\\x@example.com'", missing: [] });
    expect(substituteVariables("@email LIKE '%$(instance/vars/@city)%' AND @x = 'it''s $(vars/@zip)'", lookup).expr).toBe(
      "@email LIKE '%Paris%' AND @x = 'it''s 01234'",
    );
  });

  it('when a variable stands alone, then a number becomes a number literal and anything else a string literal', () => {
    expect(substituteVariables('@age >= $(vars/@min)', lookup).expr).toBe('@age >= 18');
    expect(substituteVariables('[location/@city] = $(instance/vars/@city)', lookup).expr).toBe("[location/@city] = 'Paris'");
    expect(substituteVariables('@a = $(vars/@empty)', lookup).expr).toBe("@a = ''");
  });

  it('when a variable is not set, then it is reported and left as written', () => {
    const r = substituteVariables("@a = $(vars/@nope) OR @b = '$(instance/vars/@gone)'", lookup);
    expect(r.missing.map((m) => m.name)).toEqual(['vars.nope', 'instance.vars.gone']);
    expect(r.expr).toBe("@a = $(vars/@nope) OR @b = '$(instance/vars/@gone)'");
  });

  it('when a value tries to close the literal and add a condition, then it stays one bound value', () => {
    const hostile = variableLookup({ x: "' OR 1=1 OR @email <> '" }, {});
    const where = parseXml(`<where><condition expr="@email = '$(vars/@x)'"/></where>`);
    const bound = bindWhereVariables(where, hostile);
    const schemas = compileBuiltinSchemas();
    const compiled = compileQueryDef(
      element('queryDef', { schema: 'nms:recipient', operation: 'select' }, [element('select', {}, [element('node', { expr: '@id' })]), bound.where]),
      schemas,
      {
        database: 'cloud',
      },
    );
    expect(compiled.params).toContain("' OR 1=1 OR @email <> '");
    expect(compiled.sql).not.toContain('1=1');
    const bare = compileQueryDef(
      element('queryDef', { schema: 'nms:recipient', operation: 'select' }, [
        element('select', {}, [element('node', { expr: '@id' })]),
        bindWhereVariables(parseXml('<where><condition expr="@email = $(vars/@x)"/></where>'), hostile).where,
      ]),
      schemas,
      { database: 'cloud' },
    );
    expect(bare.params).toContain("' OR 1=1 OR @email <> '");
  });

  it('when a where has nested conditions, then every expr is bound and missing variables are listed once', () => {
    const where = parseXml(
      `<where><condition expr="@a = $(vars/@min)"><condition expr="@b = '$(vars/@zip)'" boolOperator="OR"/><condition expr="@c = $(vars/@nope) AND @d = $(vars/@nope)"/></condition></where>`,
    );
    const bound = bindWhereVariables(where, lookup);
    expect(serializeXml(bound.where, { plain: true })).toContain('expr="@b = &apos;01234&apos;"');
    expect(bound.missing.map((m) => m.name)).toEqual(['vars.nope']);
  });

  it('when text is escaped for an XTK literal, then quotes and backslashes are prefixed', () => {
    expect(escapeXtkString("a'b\\c")).toBe("a\\'b\\\\c");
    expect(findVariableRefs("$(vars/@a) '$(instance/vars/@b)' $(other/@c)").map((r) => r.name)).toEqual(['vars.a', 'instance.vars.b']);
  });
});
