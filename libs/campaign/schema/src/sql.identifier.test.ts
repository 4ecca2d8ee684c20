import { MAX_IDENTIFIER_LENGTH, isSqlIdentifier, quoteIdent, quoteLiteral } from './sql.identifier';

describe('quoteIdent', () => {
  it('when the name is a plain identifier, then it is double-quoted, case kept', () => {
    expect(quoteIdent('nms_recipient')).toBe('"nms_recipient"');
    expect(quoteIdent('_c0')).toBe('"_c0"');
    expect(quoteIdent('sEmail')).toBe('"sEmail"');
    expect(quoteIdent('a'.repeat(MAX_IDENTIFIER_LENGTH))).toBe(`"${'a'.repeat(63)}"`);
  });

  it.each([
    ['a double quote', 'x"; DROP TABLE y; --'],
    ['a lone double quote', '"'],
    ['NUL', 'email\u0000'],
    ['a single quote', "o'brien"],
    ['a space', 'first name'],
    ['a dot', 'public.nms_recipient'],
    ['a semicolon', 'a;b'],
    ['a leading digit', '1column'],
    ['a hyphen', 'broad-log'],
    ['a newline', 'a\nb'],
    ['a backslash', 'a\\b'],
    ['non-ASCII letters', 'prénom'],
    ['a look-alike Unicode quote', 'a\u201Cb'],
    ['nothing', ''],
    ['64 characters (PostgreSQL would truncate it)', 'a'.repeat(MAX_IDENTIFIER_LENGTH + 1)],
    ['100,000 characters', 'a'.repeat(100_000)],
  ])('when the name holds %s, then it is refused, not escaped', (_what, name) => {
    expect(isSqlIdentifier(name)).toBe(false);
    expect(() => quoteIdent(name)).toThrow(/is not a valid SQL identifier/);
  });

  it('when a refused name is long or hostile, then the error shows it escaped and shortened', () => {
    const err = (() => {
      try {
        quoteIdent(`${'x'.repeat(200)}\u0000"`);
      } catch (e) {
        return e as Error;
      }
      throw new Error('not refused');
    })();
    expect(err.message.length).toBeLessThan(200);
    expect(err.message).not.toContain('\u0000');
  });
});

describe('quoteLiteral', () => {
  it('when a literal has quotes or backslashes, then quotes are doubled and backslashes kept', () => {
    expect(quoteLiteral(`it's \\ ok`)).toBe(`'it''s \\ ok'`);
    expect(() => quoteLiteral('a\u0000b')).toThrow(/NUL/);
  });
});
