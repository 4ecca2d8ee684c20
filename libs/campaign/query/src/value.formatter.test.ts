import { formatDateTime, getValueFormatter } from './value.formatter';

describe('value formatters', () => {
  it('when a datetime is formatted, then it is UTC with milliseconds, as Campaign writes it', () => {
    expect(formatDateTime(new Date('2022-09-26T03:13:36.48Z'))).toBe('2022-09-26 03:13:36.480Z');
    expect(getValueFormatter('datetime')(new Date(Date.UTC(999, 0, 2, 3, 4, 5, 6)))).toBe('0999-01-02 03:04:05.006Z');
  });

  it('when a datetime comes as PostgreSQL text or ISO text, then it is normalised to UTC', () => {
    const f = getValueFormatter('datetime');
    expect(f('2022-09-26 05:13:36.48+02')).toBe('2022-09-26 03:13:36.480Z');
    expect(f('2022-09-26T03:13:36Z')).toBe('2022-09-26 03:13:36.000Z');
    expect(f('2022-09-25 22:43:36.5-04:30')).toBe('2022-09-26 03:13:36.500Z');
    expect(f('not a date')).toBe('not a date');
  });

  it('when a date comes as the local-midnight Date node-postgres makes, or as text, then it is YYYY-MM-DD', () => {
    const f = getValueFormatter('date');
    expect(f(new Date(2024, 1, 29))).toBe('2024-02-29');
    expect(f('2024-02-29')).toBe('2024-02-29');
  });

  it('when booleans come as booleans, numbers or PostgreSQL text, then they are true/false', () => {
    const f = getValueFormatter('boolean');
    expect([true, false, 1, 0, 't', 'f', 'true'].map(f)).toEqual(['true', 'false', 'true', 'false', 'true', 'false', 'true']);
  });

  it('when numbers come as JS numbers or exact strings (int8, numeric), then integers pass through and doubles are trimmed', () => {
    expect(getValueFormatter('int64')('9007199254740993')).toBe('9007199254740993');
    expect(getValueFormatter('long')(42)).toBe('42');
    expect(getValueFormatter('double')('2.5000000000000000')).toBe('2.5');
    expect(getValueFormatter('double')(0.1)).toBe('0.1');
  });

  it('when a value is NULL, then every formatter gives undefined (the attribute is omitted)', () => {
    for (const type of ['string', 'memo', 'uuid', 'boolean', 'byte', 'short', 'long', 'int64', 'double', 'datetime', 'date'] as const) {
      expect(getValueFormatter(type)(null)).toBeUndefined();
      expect(getValueFormatter(type)(undefined)).toBeUndefined();
    }
  });
});
