import { thrownBy } from '../test/thrown.fixture';
import { tokenizeExpression, type Token } from './xtk-expression.tokenizer';
import { XtkExpressionError } from './xtk-expression.error';

const kinds = (expr: string) => tokenizeExpression(expr).map((t) => t.kind);

function failure(expr: string): XtkExpressionError {
  return thrownBy(XtkExpressionError, () => tokenizeExpression(expr), `'${expr}' was accepted`);
}

describe('tokenizeExpression', () => {
  it('when given attributes, paths and bracketed paths, then each is one path token with its segments', () => {
    const tokens = tokenizeExpression("@email = 'a' AND location/@city <> [folder/parent/@label] OR [@folder-id] = [../@id]");
    const paths = tokens.filter((t): t is Extract<Token, { kind: 'path' }> => t.kind === 'path');
    expect(paths.map((p) => p.text)).toEqual(['@email', 'location/@city', 'folder/parent/@label', '@folder-id', '../@id']);
    expect(paths[2]!.segments).toEqual([
      { kind: 'element', name: 'folder', pos: 37 },
      { kind: 'element', name: 'parent', pos: 44 },
      { kind: 'attribute', name: 'label', pos: 51 },
    ]);
    expect(paths[4]!.segments[0]).toEqual({ kind: 'parent', pos: 78 });
  });

  it('when a bare name is not followed by a path, then it is a name token (keyword, function or element)', () => {
    expect(tokenizeExpression('comment IS NOT NULL').map((t) => (t.kind === 'name' ? t.value : t.kind))).toEqual(['comment', 'IS', 'NOT', 'NULL', 'eof']);
    expect(kinds('Lower(@email)')).toEqual(['name', 'op', 'path', 'op', 'eof']);
  });

  it("when a string uses \\', '' and \\\\ escapes, then the value is unescaped and other backslashes are kept", () => {
    const [t] = tokenizeExpression("'Rock \\'n\\' Roll, it''s \\\\ 100\\%'");
    expect(t).toEqual({ kind: 'string', value: "Rock 'n' Roll, it's \\ 100\\%", pos: 1 });
  });

  it('when a string holds any Unicode, then it is kept as written', () => {
    expect(tokenizeExpression("'Zoë ＇ 漢字 🎉'")[0]).toMatchObject({ kind: 'string', value: 'Zoë ＇ 漢字 🎉' });
  });

  it('when dates are written #YYYY-MM-DD#, #YYYY/MM/DD# or with a time, then they become ISO values (time in UTC)', () => {
    const dates = tokenizeExpression('#2024-12-01# #2002/02/01# #2024-12-01 10:00:00# #2024-02-29T23:59:59.5Z#').filter((t) => t.kind === 'date');
    expect(dates).toEqual([
      { kind: 'date', value: '2024-12-01', hasTime: false, pos: 1 },
      { kind: 'date', value: '2002-02-01', hasTime: false, pos: 14 },
      { kind: 'date', value: '2024-12-01T10:00:00.000Z', hasTime: true, pos: 27 },
      { kind: 'date', value: '2024-02-29T23:59:59.500Z', hasTime: true, pos: 49 },
    ]);
  });

  it('when a date does not exist, then it is refused', () => {
    expect(failure('@d = #2023-02-29#').message).toBe(
      "XTK-170036 Unable to parse expression '@d = #2023-02-29#': invalid date literal '#2023-02-29#' at position 6",
    );
  });

  it('when numbers are integers, decimals or exponents, then they are number tokens; digits glued to letters are refused', () => {
    expect(
      tokenizeExpression('1 2.5 1e3 7E-2')
        .filter((t) => t.kind === 'number')
        .map((t) => (t as { value: string }).value),
    ).toEqual(['1', '2.5', '1e3', '7E-2']);
    expect(failure('@a = 1UNION').message).toContain('invalid number at position 6');
  });

  it('when `-` sits inside an attribute name before a letter, then it is part of the name; before a digit it is a minus', () => {
    expect(tokenizeExpression('@folder-id')[0]).toMatchObject({ kind: 'path', text: '@folder-id' });
    expect(kinds('@age-1')).toEqual(['path', 'op', 'number', 'eof']);
  });

  it.each([
    ["@a = 'x'; DROP TABLE t", "statement separator ';' is not allowed", 9, ';'],
    ['@a = 1 -- comment', "SQL comment '--' is not allowed", 8, '--'],
    ['@a = 1 /* c */', "SQL comment '/*' is not allowed", 8, '/*'],
    ['@a::text', "casts '::' are not allowed", 3, '::'],
    ['"email" = 1', 'quoted identifiers are not allowed', 1, '"'],
    ['@a = $(x)', "template parameters '$(…)' are not supported", 6, '$'],
    ['[SQLDATA[1=1]]', 'native SQL [SQLDATA[…]] is not allowed', 1, '[SQLDATA['],
    ['@a = ＇x＇', "unexpected character '＇' (U+FF07)", 6, '＇'],
    ['@a\u00a0= 1', "unexpected character '\u00a0' (U+00A0)", 3, '\u00a0'],
    ['@a = 1\u0000', 'unexpected control character U+0000', 7, '\u0000'],
    ["@a = 'x", 'unterminated string literal', 6, "'"],
    ["@a = 'x\u0000y'", 'NUL character in string literal', 8, ''],
    ['[nms:recipient:rcp:@id]', "schema-qualified paths ('[schema:alias:xpath]') are not supported", 5, ':'],
  ])('when the expression is %j, then it is refused: %s at position %d', (expr, what, position, token) => {
    const err = failure(expr);
    expect(err.message).toBe(`XTK-170036 Unable to parse expression '${expr}': ${what} at position ${position}`);
    expect(err.position).toBe(position);
    expect(err.token).toBe(token);
    expect(err.code).toBe('XTK-170036');
  });
});
