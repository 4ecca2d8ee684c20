// S2: hostile XTK expressions (SQL injection attempts in where, select, orderBy and groupBy). Each one must be
// refused with an XtkExpressionError, or compile to SQL in which the hostile text is only in bound parameters.
import { compileBuiltinSchemas } from '../test/builtin-schemas.fixture';
import { compileQueryDef } from './query-def.compiler';
import type { SimpleJsonQueryDef } from './query-def.model';
import { QueryError } from './query.error';
import { XtkExpressionError } from './xtk-expression.error';

const schemas = compileBuiltinSchemas();

interface Hostile {
  expr: string;
  /** Text that must never reach the SQL; when the expression compiles, it must be inside a parameter. */
  danger?: string;
}

const h = (expr: string, danger?: string): Hostile => (danger === undefined ? { expr } : { expr, danger });

const HOSTILE_EXPRESSIONS: Hostile[] = [
  // Quotes that try to close the string literal: stay inside the bound value.
  h("@email = 'x'' OR ''1''=''1'", "' OR '1'='1"),
  h("@email = 'x\\' OR 1=1 --'", "' OR 1=1 --"),
  h("@email = '\\''", "'"),
  h("@email = ''''", "'"),
  h("@email = 'a'' OR 1=1; DROP TABLE nms_recipient; --'", 'DROP TABLE'),
  h("@email = 'x'' UNION SELECT password FROM xtk_operator --'", 'UNION SELECT'),
  h("@email LIKE '%'' OR ''a''=''a'", "' OR 'a'='a"),
  h("@email LIKE '%\\' OR 1=1 --%'", "' OR 1=1"),
  h("IsNull(@email, 'x'') OR 1=1 --') = 'y'", "') OR 1=1"),
  h("Lower(@email) = 'robert''); DROP TABLE students;--'", 'DROP TABLE students'),
  h("@email IN ('a'', ''b', 'c''); --')", "'); --"),
  h("@email = 'x' OR 'a' = 'a'"),
  h("'x' = 'x'"),
  h("@email = 'x\\\\' OR 1=1 --'"),
  h("@email = 'x\\\\\\' OR 1=1'", "' OR 1=1"),
  h("@email = 'x' OR 1 = 1"),
  h('@email = @email OR 1 = 1'),
  h("@email = '\\x27 OR 1=1'", '\\x27 OR 1=1'),
  h("@email = 'x\\'; SELECT pg_sleep(10); --'", 'pg_sleep'),
  h("@email = '%27%20OR%201%3D1'", '%27%20OR'),
  // Unterminated or unbalanced quotes.
  h("@email = 'x"),
  h("@email = 'x'' OR 1=1"),
  h("' OR 1=1"),
  h("' OR ''='"),
  h("@email = 'x' OR 'a"),
  h("@email = 'x\\'"),
  // Comments.
  h('@id = 1 --'),
  h("@email = 'x'--'"),
  h('@id = 1 /* comment */'),
  h('@id = 1 /*'),
  h('@id = 1 */'),
  h('@id = 1 # comment'),
  h("@email = 'x' -- AND @id = 2"),
  h('@gender = 1 - -1'),
  // Statement separators and stacked queries.
  h('@id = 1; DROP TABLE nms_recipient'),
  h("@email = 'x'; DELETE FROM nms_recipient"),
  h("@email IN ('a'); DELETE FROM nms_recipient; --')"),
  h(';'),
  h('1; SELECT pg_sleep(10)'),
  h("@email = 'a\\\\'; DROP TABLE x; --'"),
  // UNION, sub-selects and other SQL clauses.
  h('@id = 1 UNION SELECT 1'),
  h('@id = 1 union all select password from xtk_operator'),
  h('@id IN (SELECT id FROM xtk_operator)'),
  h('(SELECT 1) = 1'),
  h('EXISTS(SELECT 1)'),
  h('@gender = (SELECT max(gender) FROM nms_recipient)'),
  h('@id = 1 LIMIT 1'),
  h('@id = 1 ORDER BY 1'),
  h('@id = 1 GROUP BY 1'),
  h('@id = 1 HAVING 1=1'),
  h('@id = 1 FOR UPDATE'),
  h('@id = 1 RETURNING *'),
  h('@email = \'x\' COLLATE "C"'),
  h('@gender BETWEEN 1 AND 2'),
  h("@email ILIKE 'x'"),
  h("@email SIMILAR TO 'x'"),
  h('@gender IS DISTINCT FROM 1'),
  h('Iif(1 = 1, (SELECT 1), 2) = 1'),
  h('CASE WHEN 1=1 THEN 1 END = 1'),
  // Functions outside the allow-list.
  h('pg_sleep(10) = 1'),
  h("@email = 'x' AND 1 = pg_sleep(5)"),
  h('Pg_Sleep(1) IS NULL'),
  h('PG_SLEEP(1) IS NULL'),
  h('version() IS NOT NULL'),
  h("pg_read_file('/etc/passwd') IS NOT NULL"),
  h("lo_import('/etc/passwd') = 1"),
  h("dblink('host=evil', 'select 1') IS NULL"),
  h("set_config('role', 'postgres', false) IS NULL"),
  h("query_to_xml('select 1', true, true, '') IS NULL"),
  h('current_setting(1) IS NULL'),
  h('@email = chr(39)'),
  h('@email = char(39)'),
  h("@email = concat('a', 'b')"),
  h('now() IS NULL'),
  h('countall(*) > 1'),
  h('Count(*) > 1'),
  h('current_user IS NULL'),
  h('session_user = 1'),
  // Casts.
  h('@email::text = 1'),
  h('@id::int = 1'),
  h('CAST(@email AS text) IS NULL'),
  h("@email = 'x'::text"),
  // Identifier smuggling.
  h('[@email" OR 1=1 --] = 1'),
  h('@email" = 1'),
  h('"nms_recipient"."email" = 1'),
  h('@email` = 1'),
  h('[folder/@label; DROP] = 1'),
  h('@select = 1'),
  h('@id = 1 AND DROP'),
  h('[../../@id] = 1'),
  h('[../../../etc/passwd] = 1'),
  h(`@${'a'.repeat(10_000)} = 1`),
  h('[nms:recipient:rcp:@id] = 1'),
  h('[SQLDATA[ 1=1 ]]'),
  h('[sqldata[ select 1 ]] = 1'),
  // Template parameters and PostgreSQL literal syntaxes.
  h('$(login) = 1'),
  h('@id = $long(1)'),
  h('@email = $$x$$'),
  h('@id = $1'),
  h("@email = E'\\x27'"),
  h("@email = U&'\\0027'"),
  h("@email = B'101'"),
  h('@email = &apos;x&apos;'),
  h('@email = %27x%27'),
  // PostgreSQL operators that XTK does not have.
  h("@email || 'x' = 'y'"),
  h("@email ~ 'x'"),
  h('@gender ^ 2 = 1'),
  h('@gender % 2 = 1'),
  h('@gender & 1 = 1'),
  h('@gender << 1 = 1'),
  h("@email @> 'x'"),
  h('@gender := 1'),
  h('@gender ! 1'),
  h('@gender == 1'),
  // Dates and numbers used as carriers.
  h("@created > #2024-01-01'; DROP#"),
  h('@created > #1=1#'),
  h("@created > #2024-01-01# OR 'a'='a'"),
  h('@gender = 0x10'),
  h('@gender = 1_000'),
  h('@gender = 1e309'),
  h('@gender = 1UNION SELECT 1'),
  h('@gender = .5'),
  // Unicode tricks: fullwidth and modifier quotes, homoglyphs, invisible and odd spaces, direction marks.
  h('@email = ＇x＇ OR ＇1＇=＇1＇'),
  h("@email = 'x' ＯＲ 1=1"),
  h('@email = ʼxʼ'),
  h('@email = ‘x’'),
  h('@еmail = 1'),
  h("@email = 'x'\u200b OR 1=1"),
  h("@email\u00a0= 'x'"),
  h("@email = 'x'\u202e OR 1=1"),
  h("@email = 'x'\u2028OR 1=1"),
  h("@email = 'x'\u3000OR 1=1"),
  h("@email = 'a＇ OR ＇1＇=＇1'", '＇ OR ＇1＇=＇1'),
  h("@email = 'é\u0301ʼ; DROP TABLE x'", 'DROP TABLE x'),
  h("@email = '🎉'' OR 1=1 --'", "' OR 1=1 --"),
  // NUL bytes and control characters.
  h("@email = 'a\u0000b'"),
  h('@id = 1\u0000'),
  h("@email = 'x'\u0000; DROP TABLE x"),
  h("@email = 'x'\u0008 OR 1=1"),
  h("@email = 'x'\u001b[31m"),
  // Whitespace that is allowed (tabs, newlines): still only bound values.
  h("@email = 'x'\n OR\t1 = 1\r\n"),
  // Very long input and deep nesting.
  h(`@email = '${'x'.repeat(1_000_000)}'`),
  h(`@email = '${"'' OR 1=1 --".repeat(5000)}'`, "' OR 1=1 --"),
  h(`${'('.repeat(65)}@id = 1${')'.repeat(65)}`),
  h(`${'('.repeat(10_000)}@id = 1${')'.repeat(10_000)}`),
  h(`${'Lower('.repeat(100)}@email${')'.repeat(100)} = 'x'`),
  h(`${'NOT '.repeat(1000)}@blackList`),
  h(Array.from({ length: 500 }, () => '1').join(' + ') + ' = 1'),
  h(Array.from({ length: 3000 }, (_, i) => `@email = 'x${i}'' OR ''1''=''1'`).join(' OR '), "' OR '1'='1"),
];

/** Every word the compiler itself writes, outside quoted identifiers and placeholders. */
const SQL_WORDS = new Set(
  (
    'SELECT DISTINCT FROM AS LEFT JOIN ON WHERE AND OR NOT IN LIKE IS NULL EXISTS GROUP BY HAVING ORDER DESC LIMIT OFFSET CASE WHEN THEN ELSE END CAST ' +
    'EXTRACT YEAR MONTH DAY HOUR count sum avg min max lower upper btrim ltrim rtrim substr length now timezone make_interval split_part chr abs round COALESCE ' +
    'integer bigint numeric text boolean date timestamptz'
  ).split(' '),
);

function allowedIdentifiers(): Set<string> {
  const ids = new Set<string>(['q']);
  for (const s of schemas.values()) {
    ids.add(s.table);
    for (const f of s.fields) ids.add(f.column);
  }
  return ids;
}
const IDENTIFIERS = allowedIdentifiers();

/** The SQL is ours: identifiers from the schemas, our own words, placeholders, punctuation; the danger is only in a parameter. */
function expectOnlyBound(sql: string, params: unknown[], danger: string | undefined): void {
  expect(sql).not.toMatch(/'|;|--|\/\*|\*\/|\0|\$\$|::(?!text|integer|bigint|numeric|boolean|date|timestamptz)/);
  const unquoted = sql.replace(/"([^"]*)"/g, (_, id: string) => {
    expect(IDENTIFIERS.has(id) || /^[rtc]\d+$/.test(id)).toBe(true);
    return ' ';
  });
  for (const word of unquoted.replace(/\$\d+/g, ' ').match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []) {
    if (!SQL_WORDS.has(word)) throw new Error(`unexpected word '${word}' in ${sql.slice(0, 300)}`);
  }
  expect(unquoted).toMatch(/^[A-Za-z0-9_$ ().,:=<>*+\-/|]*$/);
  if (danger !== undefined) {
    expect(sql.toLowerCase()).not.toContain(danger.toLowerCase());
    expect(params.some((p) => typeof p === 'string' && p.includes(danger))).toBe(true);
  }
}

type Placement = 'where' | 'select' | 'orderBy' | 'groupBy' | 'having';

function queryWith(expr: string, placement: Placement): SimpleJsonQueryDef {
  const base = { schema: 'nms:recipient', operation: 'select' };
  switch (placement) {
    case 'where':
      return { ...base, select: { node: { expr: '@id' } }, where: { condition: { expr } } };
    case 'select':
      return { ...base, select: { node: [{ expr: '@id' }, { expr, alias: '@x' }] } };
    case 'orderBy':
      return { ...base, select: { node: { expr: '@id' } }, orderBy: { node: { expr } } };
    case 'groupBy':
      return { ...base, select: { node: { expr: 'countall()', alias: '@n' } }, groupBy: { node: { expr } } };
    case 'having':
      return { ...base, select: { node: { expr: 'countall()', alias: '@n' } }, having: { condition: { expr } } };
  }
}

describe('hostile XTK expressions (S2)', () => {
  it('when the corpus is counted, then it holds at least 100 hostile expressions', () => {
    expect(HOSTILE_EXPRESSIONS.length).toBeGreaterThanOrEqual(100);
  });

  const placements: Placement[] = ['where', 'select', 'orderBy', 'groupBy', 'having'];
  const outcomes = { refused: 0, bound: 0 };

  describe.each(placements)('in %s', (placement) => {
    it.each(HOSTILE_EXPRESSIONS.map((x, i) => [i, x.expr.length > 60 ? `${x.expr.slice(0, 60)}…` : x.expr, x] as const))(
      'when hostile expression #%d %j is compiled, then it is refused or only bound as a value',
      (_i, _label, { expr, danger }) => {
        let compiled: ReturnType<typeof compileQueryDef> | undefined;
        try {
          compiled = compileQueryDef(queryWith(expr, placement), schemas);
        } catch (err) {
          expect(err).toBeInstanceOf(XtkExpressionError);
          expect((err as XtkExpressionError).message).toMatch(/^XTK-170036 /);
          expect((err as XtkExpressionError).message.length).toBeLessThan(1000);
          outcomes.refused++;
          return;
        }
        expectOnlyBound(compiled.sql, compiled.params, danger);
        outcomes.bound++;
      },
    );
  });

  it('when the whole corpus ran, then both outcomes happened (the corpus tests refusals and binding)', () => {
    expect(outcomes.refused).toBeGreaterThan(300);
    expect(outcomes.bound).toBeGreaterThan(20);
  });

  it.each([
    [{ schema: 'nms:recipient"; DROP TABLE x; --', select: { node: { expr: '@id' } } }],
    [{ schema: 'nms:recipient', select: { node: { expr: '@id', alias: '@x" FROM pg_user --' } } }],
    [{ schema: 'nms:recipient', select: { node: { expr: '@id' } }, lineCount: '1; DROP TABLE x' }],
    [{ schema: 'nms:recipient', select: { node: { expr: '@id' } }, startLine: '0 UNION SELECT 1' }],
    [{ schema: 'nms:recipient', operation: 'select; DROP', select: { node: { expr: '@id' } } }],
    [{ schema: 'nms:recipient', select: { node: { expr: '@id', sql: 'pg_sleep(10)' } } }],
    [{ schema: 'nms:recipient', select: { node: { expr: '@id' } }, where: { condition: { sql: '1=1; DROP TABLE x' } } }],
    [{ schema: 'nms:recipient', select: { node: { expr: '@id' } }, where: { condition: { expr: '@id', setOperator: 'IN (SELECT 1)' } } }],
    [{ schema: 'nms:recipient', select: { node: { expr: '@id' } }, where: { condition: { expr: '@id = 1', boolOperator: 'OR 1=1 --' } } }],
  ])('when a non-expression field carries SQL (%j), then the queryDef is refused', (input) => {
    expect(() => compileQueryDef(input, schemas)).toThrow(QueryError);
  });
});
