import { isSafeWidening, parsePgType, renderSqlType, sqlTypeOf } from './sql-type.mapper';

describe('sql types', () => {
  it.each([
    [{ type: 'string' as const, length: 64 }, 'varchar(64)'],
    [{ type: 'string' as const }, 'text'],
    [{ type: 'memo' as const }, 'text'],
    [{ type: 'long' as const }, 'integer'],
    [{ type: 'int64' as const }, 'bigint'],
    [{ type: 'short' as const }, 'smallint'],
    [{ type: 'byte' as const }, 'smallint'],
    [{ type: 'boolean' as const }, 'boolean'],
    [{ type: 'double' as const }, 'double precision'],
    [{ type: 'datetime' as const }, 'timestamptz'],
    [{ type: 'date' as const }, 'date'],
    [{ type: 'uuid' as const }, 'text'],
  ])('when a field is %o, then its column is %s', (field, expected) => {
    expect(renderSqlType(sqlTypeOf(field))).toBe(expected);
  });

  it('when PostgreSQL prints a type, then it reads back as the type the DDL wrote', () => {
    expect(parsePgType('character varying(64)')).toEqual({ base: 'varchar', length: 64 });
    expect(parsePgType('timestamp with time zone')).toEqual({ base: 'timestamptz' });
    expect(parsePgType('jsonb')).toBeUndefined();
  });

  it.each([
    ['character varying(64)', 'varchar(128)', true],
    ['character varying(64)', 'text', true],
    ['smallint', 'bigint', true],
    ['integer', 'bigint', true],
    ['character varying(64)', 'varchar(32)', false],
    ['text', 'varchar(64)', false],
    ['bigint', 'integer', false],
    ['integer', 'text', false],
    ['boolean', 'smallint', false],
  ])('when %s becomes %s, then the change is safe: %s', (from, to, safe) => {
    const target = to.startsWith('varchar') ? { base: 'varchar' as const, length: Number(/\d+/.exec(to)![0]) } : parsePgType(to)!;
    expect(isSafeWidening(parsePgType(from)!, target)).toBe(safe);
  });
});
