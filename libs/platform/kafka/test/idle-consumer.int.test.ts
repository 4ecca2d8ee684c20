/**
 * What an idle consumer costs and how it stops (P10, kafkajs.patch.ts), against the real broker: kafkajs' own
 * consumer, with the patches the platform applies to it.
 */
import { z } from 'zod';
import type { Consumer } from 'kafkajs';
import { uniqueId, waitFor } from '@cap/platform-testing';
import { defineTopic, type Messaging } from '../src/index';
import { testMessaging } from './fixtures/test.messaging';

const HEARTBEAT_MS = 3_000;

describe('an idle consumer on the real broker', () => {
  let messaging: Messaging;
  let consumer: Consumer;
  const topic = defineTopic({
    name: `test.idle-${uniqueId('i').replace(/_/g, '-')}.ticked.v1`,
    partitions: 3,
    retentionMs: 3_600_000,
    schemaVersion: 1,
    deadLetter: false,
    description: 'test',
    payload: z.object({ n: z.number() }),
  });
  const events = { fetches: 0, fetchStarts: 0, heartbeats: 0, joined: false };
  const received: { n: number; at: number }[] = [];

  beforeAll(async () => {
    messaging = testMessaging();
    await messaging.ensureTopics([topic]);
    // kafkajs' defaults for the rest; the platform's consumers use 50–250 ms waits like this one.
    consumer = messaging.kafka.consumer({
      groupId: messaging.groupName(uniqueId('g')),
      maxWaitTimeInMs: 100,
      heartbeatInterval: HEARTBEAT_MS,
      sessionTimeout: 10_000,
    });
    consumer.on(consumer.events.FETCH, () => void events.fetches++);
    consumer.on(consumer.events.FETCH_START, () => void events.fetchStarts++);
    consumer.on(consumer.events.HEARTBEAT, () => void events.heartbeats++);
    consumer.on(consumer.events.GROUP_JOIN, () => void (events.joined = true));
    await consumer.connect();
    await consumer.subscribe({ topics: [messaging.topicName(topic)], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => void received.push({ n: Number(JSON.parse(message.value!.toString()).payload.n), at: Date.now() }),
    });
    await waitFor('the consumer to join its group', () => events.joined);
  });

  afterAll(async () => {
    await consumer?.disconnect().catch(() => undefined);
    await messaging.deleteTopics([messaging.topicName(topic)]).catch(() => undefined);
    await messaging.close();
  });

  it('when nothing arrives, then it fetches about once per heartbeat interval instead of every 100 ms, and keeps heartbeating', async () => {
    const from = { fetches: events.fetches, heartbeats: events.heartbeats };
    await waitFor('three heartbeats', () => events.heartbeats >= from.heartbeats + 3, { timeoutMs: 6 * HEARTBEAT_MS });
    const fetches = events.fetches - from.fetches;
    // Three heartbeat intervals (~9 s): ~3 fetches; kafkajs alone would fetch ~90 times.
    expect(fetches).toBeGreaterThanOrEqual(2);
    expect(fetches).toBeLessThanOrEqual(6);
  });

  it('when a message arrives during the long wait, then the broker answers at once: no added latency', async () => {
    for (let n = 1; n <= 3; n++) {
      // Publish in the middle of an idle fetch: just after one started.
      const starts = events.fetchStarts;
      await waitFor('an idle fetch to start', () => events.fetchStarts > starts, { timeoutMs: 3 * HEARTBEAT_MS, intervalMs: 20 });
      await new Promise((resolve) => setTimeout(resolve, 300 * n)); // a point inside the 3 s wait, not an outcome
      await messaging.publish(topic, [{ key: `k${n}`, payload: { n } }]);
      const sentAt = Date.now();
      const got = await waitFor(`message ${n}`, () => received.find((r) => r.n === n), { timeoutMs: 2 * HEARTBEAT_MS, intervalMs: 10 });
      expect(got.at - sentAt).toBeLessThan(1_000);
    }
  });

  it('when it stops while a fetch waits, then it does not wait for that fetch to end', async () => {
    const starts = events.fetchStarts;
    await waitFor('an idle fetch to start', () => events.fetchStarts > starts, { timeoutMs: 3 * HEARTBEAT_MS, intervalMs: 20 });
    const t0 = Date.now();
    await consumer.disconnect();
    // The fetch in flight could wait up to 3 s; the stop leaves the group and closes at once.
    expect(Date.now() - t0).toBeLessThan(1_500);
  });
});
