import { objectName } from './sql.quoting';

describe('sql quoting', () => {
  it('when an index name would pass 63 characters, then it is shortened with a hash and stays distinct', () => {
    const a = objectName('cus_a_very_long_table_name_for_testing', ['first_long_column', 'second_long_column'], 'key');
    const b = objectName('cus_a_very_long_table_name_for_testing', ['first_long_column', 'second_long_columns'], 'key');
    expect(a.length).toBeLessThanOrEqual(63);
    expect(a).toMatch(/_[0-9a-f]{8}_key$/);
    expect(a).not.toBe(b);
  });
});
