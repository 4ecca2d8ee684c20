import { createGroupCommitQueue } from './group.commit';

/** A fake store: records each transaction's items; `gate` holds the first transaction open until released. */
function fakeStore(options: { failTogether?: (items: string[]) => unknown; failAlone?: (item: string) => unknown } = {}) {
  const transactions: string[][] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let first = true;
  const hold = async () => {
    if (first) {
      first = false;
      await gate;
    }
  };
  const queue = createGroupCommitQueue<string, string>({
    maxBatch: 3,
    maxConcurrent: 1,
    alone: async (item) => {
      await hold();
      const err = options.failAlone?.(item);
      if (err) throw err;
      transactions.push([item]);
      return `${item}:ok`;
    },
    together: async (items) => {
      await hold();
      const err = options.failTogether?.(items);
      if (err) throw err;
      transactions.push(items);
      return items.map((i) => `${i}:ok`);
    },
    rolledBack: (err) => (err as Error).message === 'refused',
    expired: () => new Error('expired'),
  });
  return { queue, transactions, release };
}

describe('group commit queue', () => {
  it('when items arrive while a transaction runs, then they share the next ones, at most maxBatch each, in arrival order', async () => {
    const { queue, transactions, release } = fakeStore();
    const results = [queue.run('a'), ...['b', 'c', 'd', 'e', 'f'].map((i) => queue.run(i))];
    release();
    expect(await Promise.all(results)).toEqual(['a:ok', 'b:ok', 'c:ok', 'd:ok', 'e:ok', 'f:ok']);
    expect(transactions).toEqual([['a'], ['b', 'c', 'd'], ['e', 'f']]);
  });

  it('when a shared transaction is refused before its commit, then each item runs again alone and only the faulty one fails', async () => {
    const { queue, transactions, release } = fakeStore({
      failTogether: (items) => (items.includes('bad') ? new Error('refused') : undefined),
      failAlone: (item) => (item === 'bad' ? new Error('bad item') : undefined),
    });
    const first = queue.run('a');
    const group = ['b', 'bad', 'c'].map((i) => queue.run(i).catch((err: Error) => err.message));
    release();
    await first;
    expect(await Promise.all(group)).toEqual(['b:ok', 'bad item', 'c:ok']);
    expect(transactions).toEqual([['a'], ['b'], ['c']]);
  });

  it('when a shared transaction fails in a way that may have committed, then every item of it fails and none is replayed', async () => {
    const { queue, transactions, release } = fakeStore({ failTogether: () => new Error('connection lost') });
    const first = queue.run('a');
    const group = ['b', 'c'].map((i) => queue.run(i).catch((err: Error) => err.message));
    release();
    await first;
    expect(await Promise.all(group)).toEqual(['connection lost', 'connection lost']);
    expect(transactions).toEqual([['a']]);
  });

  it("when a waiting item's deadline passes before its turn, then it is never run and the others of its group are", async () => {
    const { queue, transactions, release } = fakeStore();
    const first = queue.run('a');
    const late = queue.run('late', Date.now() + 5).catch((err: Error) => err.message);
    const onTime = queue.run('onTime', Date.now() + 60_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    release();
    await first;
    expect(await late).toBe('expired');
    expect(await onTime).toBe('onTime:ok');
    expect(transactions).toEqual([['a'], ['onTime']]);
  });
});
