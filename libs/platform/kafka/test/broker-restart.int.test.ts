import { Writable } from 'node:stream';
import { z } from 'zod';
import { createLogger } from '@cap/platform-logger';
import { startTestBroker, uniqueId, waitFor, type TestBroker } from '@cap/platform-testing';
import { createMessaging, defineTopic, RETRY_PROFILES, runConsumer, type ConsumerRunner, type Messaging } from '../src/index';

const logger = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

const topic = defineTopic({
  name: 'test.event.recorded.v1',
  partitions: 4,
  retentionMs: 3_600_000,
  schemaVersion: 1,
  deadLetter: true,
  description: 'broker restart test',
  payload: z.object({ n: z.number().int() }),
});

/**
 * kafkajs 2.2.4 against the Apache Kafka 4.x broker this project runs: a consumer group keeps consuming and
 * committing across a broker restart, and nothing published before or after the restart is lost.
 */
describe('Kafka broker restart (own broker)', () => {
  let broker: TestBroker;
  let messaging: Messaging;
  let runner: ConsumerRunner | undefined;

  beforeAll(async () => {
    broker = await startTestBroker();
    messaging = createMessaging({ brokers: broker.brokers, clientId: uniqueId('restart'), logger, retry: RETRY_PROFILES.default });
    await messaging.ensureTopics([topic]);
  });

  afterAll(async () => {
    await runner?.stop();
    await messaging.close();
    broker.dispose();
  });

  it('when the broker restarts mid-flow, then the group resumes from its committed offsets and receives every message once', async () => {
    const seen = new Map<number, number>();
    const groupId = uniqueId('g');
    runner = await runConsumer(messaging, {
      groupId,
      topic,
      fromBeginning: true,
      concurrency: 4,
      handle: async ({ envelope }) => {
        seen.set(envelope.payload.n, (seen.get(envelope.payload.n) ?? 0) + 1);
      },
    });
    await messaging.publish(
      topic,
      Array.from({ length: 100 }, (_, n) => ({ key: `k${n % 10}`, payload: { n } })),
    );
    await waitFor('the first 100 messages', () => seen.size >= 100);
    // Let the auto-commit (1 s interval) record progress before the broker goes away.
    const admin = messaging.kafka.admin();
    await admin.connect();
    await waitFor('offsets committed for all 100', async () => {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [messaging.topicName(topic)] });
      return offsets!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0) === 100;
    });
    await admin.disconnect();

    broker.stop();
    broker.start();

    // The producer reconnects by itself; publishing right after the restart works.
    await messaging.publish(
      topic,
      Array.from({ length: 100 }, (_, n) => ({ key: `k${n % 10}`, payload: { n: 100 + n } })),
    );
    await waitFor('all 200 messages', () => seen.size >= 200, { timeoutMs: 90_000 });

    const duplicates = [...seen.entries()].filter(([, count]) => count > 1);
    expect(seen.size).toBe(200);
    expect(duplicates).toEqual([]);
  });

  it('when a consumer that commits nothing crashes while the broker is away, then once rebuilt it reads what was written before it rejoined', async () => {
    // An RPC caller's reply consumer is such a consumer: a reply written between the broker's return and the
    // consumer's rejoin (requests are answered at once; the rebuild waits its backoff) must still reach it.
    const fast = createMessaging({ brokers: broker.brokers, clientId: uniqueId('norestart'), logger, retry: RETRY_PROFILES.fast });
    const seen: number[] = [];
    const perInstance = await runConsumer(fast, {
      groupId: uniqueId('g'),
      topic,
      fromReady: true,
      commitOffsets: false,
      handle: async ({ envelope }) => {
        seen.push(envelope.payload.n);
      },
    });
    try {
      await perInstance.ready;
      await messaging.publish(topic, [{ key: 'a', payload: { n: 1_000 } }]);
      await waitFor('the message before the broker stops', () => seen.includes(1_000));
      broker.stop();
      await waitFor(
        'the consumer to crash without its broker',
        async () =>
          !(await perInstance.checkHealth().then(
            () => true,
            () => false,
          )),
        {
          timeoutMs: 60_000,
        },
      );
      broker.start();
      await messaging.publish(
        topic,
        Array.from({ length: 20 }, (_, n) => ({ key: `k${n % 4}`, payload: { n: 1_001 + n } })),
      );
      await waitFor(
        'the consumer to rejoin',
        async () =>
          perInstance.checkHealth().then(
            () => true,
            () => false,
          ),
        { timeoutMs: 60_000 },
      );
      await waitFor('every message written while it was away', () => seen.length >= 21, { timeoutMs: 30_000 });
      expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 21 }, (_, n) => 1_000 + n));
    } finally {
      await perInstance.stop();
      await fast.close();
    }
  });
});
