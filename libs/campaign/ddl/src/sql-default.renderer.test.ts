import type { Enumeration } from '@cap/campaign-schema';
import { renderDefault } from './sql-default.renderer';

const none = new Map<string, Enumeration>();

describe('renderDefault', () => {
  it.each([
    [{ type: 'string' as const, default: `it's` }, { sql: `'it''s'` }],
    [{ type: 'memo' as const, default: 'a\\b' }, { sql: `'a\\b'` }],
    [{ type: 'long' as const, default: '-12' }, { sql: '-12' }],
    [{ type: 'int64' as const, default: '9223372036854775807' }, { sql: '9223372036854775807' }],
    [{ type: 'double' as const, default: '1.50' }, { sql: '1.5' }],
    [{ type: 'boolean' as const, default: '1' }, { sql: 'true' }],
    [{ type: 'datetime' as const, default: 'GetDate()' }, { sql: 'now()' }],
    [{ type: 'datetime' as const, default: '2024-01-02T03:04:05Z' }, { sql: `'2024-01-02T03:04:05Z'::timestamptz` }],
    [{ type: 'date' as const, default: '2024-02-29' }, { sql: `'2024-02-29'::date` }],
  ])('when the default of %o is valid, then it renders as typed SQL %o', (field, expected) => {
    expect(renderDefault(field, none)).toEqual(expected);
  });

  it.each([
    [{ type: 'int64' as const, default: '9223372036854775808' }],
    [{ type: 'double' as const, default: 'NaN' }],
    [{ type: 'double' as const, default: '1e999' }],
    [{ type: 'date' as const, default: "2024-01-01'); DROP TABLE x; --" }],
    [{ type: 'datetime' as const, default: 'yesterday' }],
    [{ type: 'uuid' as const, default: 'abc' }],
  ])('when the default of %o is not a value of its type, then it is reported, never rendered', (field) => {
    expect(renderDefault(field, none)).toEqual({ problem: expect.stringContaining(`default '${field.default}' is not`) });
  });

  it('when a field has no default, then there is no DEFAULT clause', () => {
    expect(renderDefault({ type: 'long' }, none)).toBeUndefined();
  });

  it("when a string's default takes a counter ('DM'+CounterValue('DeliveryId')), then there is no DEFAULT clause: NewInstance fills it", () => {
    expect(renderDefault({ type: 'string', length: 64, default: "'DM'+CounterValue('DeliveryId')" }, none)).toBeUndefined();
  });
});
