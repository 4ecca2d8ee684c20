import { counterDefault } from './counter-default';

describe('counterDefault', () => {
  it('when a default is a prefix plus CounterValue, then its prefix and counter are read', () => {
    expect(counterDefault("'DM'+CounterValue('DeliveryId')")).toEqual({ prefix: 'DM', counter: 'DeliveryId' });
    expect(counterDefault(" 'OP' + CounterValue( 'xtkNewId' ) ")).toEqual({ prefix: 'OP', counter: 'xtkNewId' });
    expect(counterDefault("''+CounterValue('DeliveryId')")).toEqual({ prefix: '', counter: 'DeliveryId' });
  });

  it('when a default is a value or another expression, then it is no counter default', () => {
    for (const raw of [undefined, 'DM', "'DM'", "'DM'+CounterValue(DeliveryId)", "'DM'+CounterValue('a b')", "'x'+Counter('c')", "'a''b'+CounterValue('c')"]) {
      expect(counterDefault(raw)).toBeUndefined();
    }
  });
});
