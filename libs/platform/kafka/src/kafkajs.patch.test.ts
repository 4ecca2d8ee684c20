import {
  idleAwareFetch,
  kafkajsRequestQueueClass,
  patchKafkajs,
  stopWithoutWaitingForFetch,
  type ConsumerGroupInternals,
  type RunnerInternals,
} from './kafkajs.patch';

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const batch = (messages: number) => ({ isEmpty: () => messages === 0 });

describe('kafkajs patches', () => {
  beforeAll(() => patchKafkajs());

  it('when the installed kafkajs is the release the patches were written for, then they are applied', () => {
    // Failing here means kafkajs changed: read kafkajs.patch.ts again before upgrading.
    expect(patchKafkajs()).toBe('patched');
  });

  it('when a connection has no request waiting, then its queue arms no timer (kafkajs armed a 1 ms one forever)', () => {
    const RequestQueue = kafkajsRequestQueueClass();
    const queue = new RequestQueue({
      maxInFlightRequests: 1,
      requestTimeout: 10_000,
      enforceRequestTimeout: true,
      clientId: 'test',
      broker: 'b:9092',
      logger: quiet,
    });
    queue.scheduleCheckPendingRequests();
    expect(queue.throttleCheckTimeoutId).toBeNull();
    queue.pending.push({});
    queue.scheduleCheckPendingRequests();
    expect(queue.throttleCheckTimeoutId).not.toBeNull();
    queue.destroy();
  });

  it('when a connection opens, then its requests are checked for timeouts every tenth of the request timeout, at most every second', () => {
    const RequestQueue = kafkajsRequestQueueClass();
    const intervals = jest.spyOn(global, 'setInterval');
    try {
      for (const requestTimeout of [10_000, 500]) {
        const queue = new RequestQueue({
          maxInFlightRequests: null,
          requestTimeout,
          enforceRequestTimeout: true,
          clientId: 'test',
          broker: 'b:9092',
          logger: quiet,
        });
        queue.scheduleRequestTimeoutCheck();
        queue.destroy();
      }
      expect(intervals.mock.calls.map((c) => c[1])).toEqual([1_000, 50]);
    } finally {
      intervals.mockRestore();
    }
  });

  describe('consumer fetches', () => {
    const runnerWith = (group: ConsumerGroupInternals, results: Array<Array<{ isEmpty(): boolean }>>) => {
      const asked: Array<{ maxWaitTime: number; minBytes: number }> = [];
      const runner: RunnerInternals = {
        running: true,
        heartbeatInterval: 3_000,
        consumerGroup: group,
        fetch: idleAwareFetch(async function (this: RunnerInternals) {
          asked.push({ maxWaitTime: group.maxWaitTime, minBytes: group.minBytes });
          return results.shift() ?? [];
        }),
        stop: async () => undefined,
      };
      return { runner, asked };
    };

    it("when a fetch brings nothing, then the next one waits up to the heartbeat interval for any byte; after messages, the consumer's own settings again", async () => {
      const group = { maxWaitTime: 100, minBytes: 262_144 };
      const { runner, asked } = runnerWith(group, [[batch(5)], [batch(0), batch(0)], [], [batch(1), batch(0)], [batch(0)]]);
      for (let i = 0; i < 5; i++) await runner.fetch(0);
      expect(asked).toEqual([
        { maxWaitTime: 100, minBytes: 262_144 },
        { maxWaitTime: 100, minBytes: 262_144 },
        { maxWaitTime: 3_000, minBytes: 1 },
        { maxWaitTime: 3_000, minBytes: 1 },
        { maxWaitTime: 100, minBytes: 262_144 },
      ]);
    });

    it('when the consumer already waits longer than its heartbeat interval, then its settings are left alone', async () => {
      const group = { maxWaitTime: 5_000, minBytes: 1 };
      const { runner, asked } = runnerWith(group, [[], []]);
      await runner.fetch(0);
      await runner.fetch(0);
      expect(asked.map((a) => a.maxWaitTime)).toEqual([5_000, 5_000]);
    });

    it('when a consumer stops while its fetch waits, then the fetch is answered with nothing at once and its connection closed', async () => {
      const closed: string[] = [];
      const connection = { rejectRequests: (err: Error) => closed.push(`rejected: ${err.name}`), disconnect: async () => void closed.push('disconnected') };
      const group: ConsumerGroupInternals = {
        maxWaitTime: 250,
        minBytes: 1,
        cluster: { brokerPool: { brokers: { '1': { connectionPool: { pool: [{} as never, connection] } } } } },
      };
      let stoppedOriginal = false;
      const runner: RunnerInternals = {
        running: true,
        heartbeatInterval: 3_000,
        consumerGroup: group,
        fetch: idleAwareFetch(() => new Promise(() => undefined)),
        stop: stopWithoutWaitingForFetch(async function (this: RunnerInternals) {
          stoppedOriginal = true;
        }),
      };
      const fetching = runner.fetch(1);
      await runner.stop();
      await expect(fetching).resolves.toEqual([]);
      expect(stoppedOriginal).toBe(true);
      expect(closed).toEqual(['rejected: CapConsumerStopped', 'disconnected']);
    });
  });
});
