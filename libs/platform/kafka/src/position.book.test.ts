import { PositionBook } from './position.book';

describe('PositionBook (where a consumer that commits nothing reads on from)', () => {
  it('when a partition has a start and messages are dealt with, then it reads on from one past the last', () => {
    const book = new PositionBook();
    book.start('t', 0, '7');
    book.start('t', 1, '0');
    book.advance('t', 0, '7');
    book.advance('t', 0, '8');
    expect(book.all()).toEqual([
      { topic: 't', partition: 0, offset: '9' },
      { topic: 't', partition: 1, offset: '0' },
    ]);
  });

  it('when the consumer is rebuilt and offers its ends again, then the position it already has is kept', () => {
    const book = new PositionBook();
    book.start('t', 0, '3');
    book.advance('t', 0, '3');
    book.start('t', 0, '12');
    expect(book.all()).toEqual([{ topic: 't', partition: 0, offset: '4' }]);
  });

  it('when a message is dealt with again after a rebalance, then the position never goes backwards', () => {
    const book = new PositionBook();
    book.advance('t', 2, '41');
    book.advance('t', 2, '40');
    expect(book.all()).toEqual([{ topic: 't', partition: 2, offset: '42' }]);
  });

  it('when offsets pass 2^53, then they are kept exactly', () => {
    const book = new PositionBook();
    book.advance('t', 0, '9007199254740993');
    expect(book.all()).toEqual([{ topic: 't', partition: 0, offset: '9007199254740994' }]);
  });
});
