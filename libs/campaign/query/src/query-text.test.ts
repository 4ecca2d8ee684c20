import { inlineSqlParams, queryFormat } from './query-text';

describe('inlineSqlParams', () => {
  it('when a statement has placeholders, then each becomes its value as a literal', () => {
    expect(inlineSqlParams('SELECT a FROM t WHERE b = $1 AND c = $2::integer LIMIT $3', ["it's", 5, 10])).toBe(
      "SELECT a FROM t WHERE b = 'it''s' AND c = 5::integer LIMIT 10",
    );
  });

  it('when there are ten or more values, then $1 and $10 are told apart', () => {
    const params = Array.from({ length: 11 }, (_, i) => i + 1);
    expect(inlineSqlParams('$1,$10,$11', params)).toBe('1,10,11');
  });

  it('when a placeholder-like text is quoted, or names no value, then it is left as it is', () => {
    expect(inlineSqlParams(`SELECT '$1', "$1", 'a''$1' FROM t WHERE x = $1 AND y = $9`, ['v'])).toBe(
      `SELECT '$1', "$1", 'a''$1' FROM t WHERE x = 'v' AND y = $9`,
    );
  });

  it('when values are null, booleans, dates or big integers, then they are written as PostgreSQL literals', () => {
    expect(inlineSqlParams('$1 $2 $3 $4 $5', [null, true, new Date('2024-01-02T03:04:05.000Z'), 12n, Number.NaN])).toBe(
      "NULL TRUE '2024-01-02T03:04:05.000Z' 12 NULL",
    );
  });

  it('when a value tries to close its quote, then it stays one literal', () => {
    expect(inlineSqlParams('WHERE a = $1', ["x'; DROP TABLE t; --"])).toBe("WHERE a = 'x''; DROP TABLE t; --'");
  });
});

describe('queryFormat', () => {
  it('when a query selects attributes, a nested attribute and a text element, then the format lists each with its type', () => {
    const column = (name: string, type: 'long' | 'string' | 'memo', path: string[] = [], isElement = false) => ({ alias: 'c', path, name, isElement, type });
    expect(
      queryFormat({
        operation: 'select',
        schemaId: 'nms:recipient',
        rowName: 'recipient',
        columns: [column('id', 'long'), column('city', 'string', ['location']), column('comment', 'memo', [], true)],
      }),
    ).toBe('recipient,@id:long,location/@city:string,comment:memo');
  });
});
