import { thrownBy } from '../test/thrown.fixture';
import type { ExprNode, LogicalNode } from './xtk-expression.ast';
import { XtkExpressionError } from './xtk-expression.error';
import { parseExpression } from './xtk-expression.parser';

/** A compact, position-free rendering of a tree, to compare shapes. */
function show(n: ExprNode): string {
  switch (n.kind) {
    case 'literal':
      return n.type === 'string' ? `'${String(n.value)}'` : n.type === 'date' || n.type === 'datetime' ? `#${String(n.value)}#` : String(n.value);
    case 'null':
      return 'NULL';
    case 'path':
      return n.text;
    case 'call':
      return `${n.name}(${n.args.map(show).join(', ')})`;
    case 'unary':
      return `(${n.op} ${show(n.operand)})`;
    case 'binary':
      return `(${show(n.left)} ${n.op} ${show(n.right)})`;
    case 'logical':
      return `(${n.operands.map(show).join(` ${n.op} `)})`;
    case 'like':
      return `(${show(n.operand)} ${n.negated ? 'NOT LIKE' : 'LIKE'} ${show(n.pattern)})`;
    case 'in':
      return `(${show(n.operand)} ${n.negated ? 'NOT IN' : 'IN'} [${n.items.map(show).join(', ')}])`;
    case 'isNull':
      return `(${show(n.operand)} ${n.negated ? 'IS NOT NULL' : 'IS NULL'})`;
  }
}

const parse = (e: string) => show(parseExpression(e));

function failure(expr: string, options?: Parameters<typeof parseExpression>[1]): XtkExpressionError {
  return thrownBy(XtkExpressionError, () => parseExpression(expr, options), `'${expr.slice(0, 50)}' was accepted`);
}

describe('parseExpression', () => {
  it('when AND and OR are mixed, then AND binds tighter and chains are flat', () => {
    expect(parse('@a = 1 OR @b = 2 AND @c = 3 OR @d = 4')).toBe('((@a = 1) OR ((@b = 2) AND (@c = 3)) OR (@d = 4))');
    expect(parse('(@a = 1 OR @b = 2) AND NOT @c = 3')).toBe('(((@a = 1) OR (@b = 2)) AND (NOT (@c = 3)))');
  });

  it('when arithmetic is mixed, then * and / bind tighter than + and -, left to right', () => {
    expect(parse('@a + @b * 2 - 3 / @c')).toBe('((@a + (@b * 2)) - (3 / @c))');
    expect(parse("@lastName + '-' + @firstName")).toBe("((@lastName + '-') + @firstName)");
  });

  it('when a minus precedes a number, then it is folded into the literal; before anything else it is a unary minus', () => {
    expect(parseExpression('-5')).toEqual({ kind: 'literal', type: 'number', value: -5, pos: 1 });
    expect(parse('-@a * 2')).toBe('((- @a) * 2)');
  });

  it('when LIKE, NOT LIKE, IN, NOT IN, IS NULL and IS NOT NULL are used, then each is one node', () => {
    expect(parse("@email LIKE '%@x.com' AND @email NOT LIKE 'a%'")).toBe("((@email LIKE '%@x.com') AND (@email NOT LIKE 'a%'))");
    expect(parse("@gender IN (1, 2) OR @name NOT IN ('a', 'b')")).toBe("((@gender IN [1, 2]) OR (@name NOT IN ['a', 'b']))");
    expect(parse('comment IS NULL AND [folder/@label] IS NOT NULL')).toBe('((comment IS NULL) AND (folder/@label IS NOT NULL))');
  });

  it('when != is used, then it means <>', () => {
    expect(parse('@a != 1')).toBe('(@a <> 1)');
  });

  it('when functions are called in any case, then they get their canonical name and arguments', () => {
    expect(parse("lower(@email) = UPPER('x') AND countall() > 1 AND substring(@a, 1, 2) = iif(@b = 1, 'y', 'n')")).toBe(
      "((Lower(@email) = Upper('x')) AND (countall() > 1) AND (Substring(@a, 1, 2) = Iif((@b = 1), 'y', 'n')))",
    );
  });

  it('when literals are true, false, dates and big integers, then they keep their type', () => {
    expect(parseExpression('true')).toMatchObject({ kind: 'literal', type: 'boolean', value: true });
    expect(parseExpression('#2024-12-01 10:00:00#')).toMatchObject({ kind: 'literal', type: 'datetime', value: '2024-12-01T10:00:00.000Z' });
    expect(parseExpression('12345678901234567890')).toMatchObject({ kind: 'literal', type: 'number', value: '12345678901234567890' });
  });

  it('when a name is a collection link or text element alone, then it is a one-segment path', () => {
    expect(parseExpression('subscription')).toEqual({
      kind: 'path',
      segments: [{ kind: 'element', name: 'subscription', pos: 1 }],
      text: 'subscription',
      pos: 1,
    });
  });

  it('when a function is not in the allow-list, then the error names it with its position', () => {
    const err = failure('@a = 1 AND pg_sleep(10) = 1');
    expect(err.message).toBe("XTK-170036 Unknown function 'pg_sleep' at position 12 of '@a = 1 AND pg_sleep(10) = 1'");
    expect(err).toMatchObject({ position: 12, token: 'pg_sleep', kind: 'unknown-name' });
  });

  it('when a function gets the wrong number of arguments, then it is refused', () => {
    expect(failure('Lower(@a, @b)').message).toBe(
      "XTK-170036 Unable to parse expression 'Lower(@a, @b)': function 'Lower' takes 1 argument, not 2 at position 1",
    );
  });

  it('when SQL keywords appear, then the error says so at their position', () => {
    expect(failure('@a = 1 UNION SELECT 1').message).toBe(
      "XTK-170036 Unable to parse expression '@a = 1 UNION SELECT 1': SQL keyword 'UNION' is not allowed at position 8",
    );
    expect(failure('SELECT').message).toContain("SQL keyword 'SELECT' is not allowed at position 1");
  });

  it.each([
    ['@a =', 'unexpected end of expression at position 5'],
    ['(@a = 1', "expected ')' at position 8"],
    ['@a = 1)', "unexpected ')' at position 7"],
    ['@a IN ()', 'empty IN list at position 8'],
    ['@a IS 1', 'expected NULL after IS at position 7'],
    ['@a = = 1', "unexpected '=' at position 6"],
    ['', 'empty expression at position 1'],
    ['   ', 'empty expression at position 1'],
  ])('when the expression is %j, then the error is "%s"', (expr, what) => {
    expect(failure(expr).message).toBe(`XTK-170036 Unable to parse expression '${expr}': ${what}`);
  });

  it('when parentheses nest deeper than the limit, then it is refused, not a stack overflow', () => {
    const deep = `${'('.repeat(65)}@a = 1${')'.repeat(65)}`;
    expect(failure(`${'Lower('.repeat(65)}@a${')'.repeat(65)}`).message).toContain('nested deeper than 64 levels');
    expect(failure(`${'NOT '.repeat(65)}@a`).message).toContain('nested deeper than 64 levels');
    expect(failure(deep).message).toContain('expression nested deeper than 64 levels');
    expect(() => parseExpression(`${'('.repeat(64)}@a = 1${')'.repeat(64)}`)).not.toThrow();
    expect(() => parseExpression(`${'Lower('.repeat(64)}@a${')'.repeat(64)} = 'x'`)).not.toThrow();
    expect(failure(`${'('.repeat(50_000)}1`).message).toContain('nested deeper than 64 levels at position 65');
  });

  it('when an operator chain is very long, then AND/OR chains stay flat but arithmetic chains are capped', () => {
    const ors = Array.from({ length: 2000 }, (_, i) => `@a = ${i}`).join(' OR ');
    const tree = parseExpression(ors);
    expect(tree).toMatchObject({ kind: 'logical', op: 'OR' });
    expect((tree as LogicalNode).operands).toHaveLength(2000);
    expect(failure(Array.from({ length: 200 }, () => '1').join(' + ')).message).toContain('nested deeper than 64 levels');
  });

  it('when the expression is longer than the limit, then it is refused before tokenizing', () => {
    const long = `@a = '${'x'.repeat(70_000)}'`;
    const err = failure(long);
    expect(err.message).toMatch(/^XTK-170036 Unable to parse expression '@a = 'x+…': expression longer than 65536 characters at position 65537$/);
    expect(() => parseExpression(long, { maxLength: 100_000 })).not.toThrow();
  });
});
