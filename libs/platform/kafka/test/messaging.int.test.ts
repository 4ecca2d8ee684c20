import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { AppError, ErrorCodes, errors } from '@cap/platform-errors';
import { testEndpoints, uniqueId, waitFor } from '@cap/platform-testing';
import {
  deadLetterName,
  defineTopic,
  HEADER,
  RETRY_PROFILES,
  rpcRequestTopic,
  runConsumer,
  startRpcClient,
  startRpcServer,
  type ConsumerRunner,
  type Messaging,
} from '../src/index';
import type { LateAckOptions, LateAckOutcome } from './fixtures/late-ack.rpc-driver';
import { holdRequests, KAFKA_API } from './fixtures/request-holding.socket';
import { testMessaging } from './fixtures/test.messaging';

/** Each test gets its own topic so consumers left from other tests never see its messages. */
const newOrderTopic = () =>
  defineTopic({
    name: `test.order-${uniqueId('o').replace(/_/g, '-')}.placed.v1`,
    partitions: 3,
    retentionMs: 3_600_000,
    schemaVersion: 1,
    deadLetter: true,
    description: 'test',
    payload: z.object({ orderId: z.string(), amount: z.number() }),
  });
type OrderTopic = ReturnType<typeof newOrderTopic>;

describe('Kafka messaging against the real broker', () => {
  let messaging: Messaging;
  const runners: ConsumerRunner[] = [];
  const topics: OrderTopic[] = [];
  let orderTopic: OrderTopic;

  beforeAll(async () => {
    messaging = testMessaging();
  });

  beforeEach(async () => {
    orderTopic = newOrderTopic();
    topics.push(orderTopic);
    await messaging.ensureTopics([orderTopic]);
  });

  afterAll(async () => {
    await Promise.all(runners.map((r) => r.stop()));
    await messaging.deleteTopics(topics.flatMap((t) => [messaging.topicName(t), deadLetterName(messaging.topicName(t))])).catch(() => undefined);
    await messaging.close();
  });

  it('when messages are published, then a consumer group receives each once with payload, key and correlation id, and commits', async () => {
    const seen: { orderId: string; key?: string; correlationId: string }[] = [];
    const groupId = uniqueId('g');
    const runner = await runConsumer(messaging, {
      groupId,
      topic: orderTopic,
      fromBeginning: true,
      concurrency: 3,
      handle: async ({ envelope, key, correlationId }) => {
        seen.push({ orderId: envelope.payload.orderId, key, correlationId });
      },
    });
    runners.push(runner);
    await messaging.publish(
      orderTopic,
      Array.from({ length: 20 }, (_, i) => ({ key: `k${i % 4}`, payload: { orderId: `o${i}`, amount: i }, correlationId: `c${i}` })),
    );
    await waitFor('20 messages', () => seen.length >= 20);
    expect(seen.map((s) => s.orderId).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `o${i}`).sort());
    expect(seen.find((s) => s.orderId === 'o5')).toEqual({ orderId: 'o5', key: 'k1', correlationId: 'c5' });
    // Offsets are committed (auto-commit of resolved offsets): the group's lag drops to zero.
    const admin = messaging.kafka.admin();
    await admin.connect();
    try {
      await waitFor('committed offsets to reach the end of every partition', async () => {
        const [committed] = await admin.fetchOffsets({ groupId: messaging.groupName(groupId), topics: [messaging.topicName(orderTopic)] });
        const ends = await admin.fetchTopicOffsets(messaging.topicName(orderTopic));
        return committed!.partitions.every((p) => p.offset === ends.find((e) => e.partition === p.partition)!.offset);
      });
    } finally {
      await admin.disconnect();
    }
  });

  it('when many publishes overlap, then they share produce requests, each resolves once acknowledged, and one key keeps call order', async () => {
    const producer = await messaging.getProducer();
    const original = producer.sendBatch.bind(producer);
    let requests = 0;
    producer.sendBatch = (batch) => {
      requests++;
      return original(batch);
    };
    try {
      await Promise.all(Array.from({ length: 200 }, (_, i) => messaging.publish(orderTopic, [{ key: 'same', payload: { orderId: `p${i}`, amount: i } }])));
    } finally {
      producer.sendBatch = original;
    }
    expect(requests).toBeLessThan(50);
    const seen: string[] = [];
    runners.push(
      await runConsumer(messaging, {
        groupId: uniqueId('g'),
        topic: orderTopic,
        fromBeginning: true,
        handle: async ({ envelope }) => {
          seen.push(envelope.payload.orderId);
        },
      }),
    );
    await waitFor('200 messages', () => seen.length >= 200);
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => `p${i}`));
  });

  it('when one of several coalesced best-effort publishes targets a topic that does not exist, then only that one fails', async () => {
    const missing = defineTopic({ ...orderTopic, name: `test.missing-${uniqueId('m').replace(/_/g, '-')}.gone.v1` });
    const results = await Promise.allSettled([
      messaging.publish(orderTopic, [{ payload: { orderId: 'a', amount: 1 } }], { bestEffort: true }),
      messaging.publish(missing, [{ payload: { orderId: 'b', amount: 2 } }], { bestEffort: true }),
      messaging.publish(orderTopic, [{ payload: { orderId: 'c', amount: 3 } }], { bestEffort: true }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('when a message is not a valid envelope or fails its schema, then it goes to the .dlq twin with the reason, and the consumer carries on', async () => {
    const good: string[] = [];
    const runner = await runConsumer(messaging, {
      groupId: uniqueId('g'),
      topic: orderTopic,
      fromBeginning: true,
      handle: async ({ envelope }) => {
        good.push(envelope.payload.orderId);
      },
    });
    runners.push(runner);
    await runner.ready;
    const dead: { reason: string; code: string; originalTopic: string }[] = [];
    // Read the DLQ raw (its values are not envelopes), through a plain consumer.
    const raw = messaging.kafka.consumer({ groupId: uniqueId('raw') });
    await raw.connect();
    await raw.subscribe({ topic: deadLetterName(messaging.topicName(orderTopic)), fromBeginning: true });
    await raw.run({
      eachMessage: async ({ message }) => {
        dead.push({
          reason: message.headers?.[HEADER.dlqReason]?.toString() ?? '',
          code: message.headers?.[HEADER.dlqErrorCode]?.toString() ?? '',
          originalTopic: message.headers?.[HEADER.dlqOriginalTopic]?.toString() ?? '',
        });
      },
    });
    try {
      const producer = await messaging.getProducer();
      await producer.send({
        topic: messaging.topicName(orderTopic),
        messages: [
          { key: 'x', value: 'not json at all' },
          { key: 'x', value: JSON.stringify({ schemaVersion: 1, id: '1', type: 't', occurredAt: 'now', payload: { orderId: 42 } }) },
        ],
      });
      await messaging.publish(orderTopic, [{ key: 'x', payload: { orderId: 'after-poison', amount: 1 } }]);
      await waitFor('the valid message after the poison ones', () => good.includes('after-poison'));
      await waitFor('two dead letters', () => dead.length >= 2);
      expect(dead.map((d) => d.code)).toEqual([ErrorCodes.INVALID_MESSAGE, ErrorCodes.INVALID_MESSAGE]);
      expect(dead[0]!.reason).toContain('not JSON');
      expect(dead[1]!.reason).toContain('orderId');
      expect(dead[0]!.originalTopic).toBe(messaging.topicName(orderTopic));
    } finally {
      await raw.disconnect();
    }
  });

  it('when a handler fails with a retriable error, then it is retried and succeeds without dead-lettering', async () => {
    let attempts = 0;
    const done: string[] = [];
    const runner = await runConsumer(messaging, {
      groupId: uniqueId('g'),
      topic: orderTopic,
      fromBeginning: true,
      handle: async ({ envelope }) => {
        if (envelope.payload.orderId !== 'flaky') return;
        attempts++;
        if (attempts < 3) throw errors.serviceUnavailable('db', 'temporarily down');
        done.push(envelope.payload.orderId);
      },
    });
    runners.push(runner);
    await runner.ready;
    await messaging.publish(orderTopic, [{ key: 'f', payload: { orderId: 'flaky', amount: 1 } }]);
    await waitFor('the flaky message to succeed', () => done.length === 1);
    expect(attempts).toBe(3);
  });

  it('when a consumer that commits nothing restarts after its handler gave up, then it resumes at that message and loses none written meanwhile', async () => {
    // A per-instance consumer (an RPC caller's replies, a replica following schema announcements) commits no
    // offset: were it to restart from the partition's end, what was written while it was down would be lost.
    const handled: string[] = [];
    let failuresLeft = RETRY_PROFILES.fast.handler.attempts + 1;
    const runner = await runConsumer(messaging, {
      groupId: uniqueId('g'),
      topic: orderTopic,
      fromReady: true,
      commitOffsets: false,
      handle: async ({ envelope }) => {
        if (envelope.payload.orderId === 'flaky' && failuresLeft-- > 0) throw errors.serviceUnavailable('db', 'temporarily down');
        handled.push(envelope.payload.orderId);
      },
    });
    runners.push(runner);
    await runner.ready;
    await messaging.publish(orderTopic, [{ key: 'k', partition: 0, payload: { orderId: 'before', amount: 1 } }]);
    await waitFor('the first message', () => handled.includes('before'));
    await messaging.publish(orderTopic, [{ key: 'k', partition: 0, payload: { orderId: 'flaky', amount: 2 } }]);
    // Written while the handler retries and gives up (and the consumer restarts).
    for (let n = 0; n < 5; n++) {
      await messaging.publish(orderTopic, [{ key: 'k', partition: 0, payload: { orderId: `after-${n}`, amount: 3 } }]);
      await sleep(100);
    }
    await waitFor('every message handled', () => handled.length >= 7, { timeoutMs: 30_000 });
    expect(handled).toEqual(['before', 'flaky', 'after-0', 'after-1', 'after-2', 'after-3', 'after-4']);
    expect(failuresLeft).toBeLessThanOrEqual(0);
  });

  describe('request/reply', () => {
    const service = 'echo-svc';
    const requestTopic = rpcRequestTopic(service, 2);
    let client: Awaited<ReturnType<typeof startRpcClient>>;
    let server: Awaited<ReturnType<typeof startRpcServer>>;
    let counted = 0;

    beforeAll(async () => {
      await messaging.ensureTopics([requestTopic]);
      server = await startRpcServer(messaging, {
        service,
        requestTopic,
        groupId: uniqueId('echo'),
        handlers: {
          echo: async (params) => ({ echoed: params }),
          count: async () => ++counted,
          slow: async (params) => {
            await new Promise((r) => setTimeout(r, (params as { ms: number }).ms));
            return 'late';
          },
          reject: async () => {
            throw new AppError({
              code: 'XSV-350001',
              message: 'Invalid login or password.',
              retriable: false,
              httpStatus: 200,
              soapFaultCode: 'SOAP-ENV:Client',
            });
          },
          crash: async () => {
            throw new TypeError('boom internals');
          },
        },
      });
      await server.ready;
      client = await startRpcClient(messaging, { instanceId: uniqueId('gw'), defaultTimeoutMs: 3_000 });
    });

    afterAll(async () => {
      await server.stop();
      await client.stop();
    });

    it('when a request is sent, then the reply carries the handler result', async () => {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => client.request({ service, topic: requestTopic }, 'echo', { i })));
      expect(results).toEqual(Array.from({ length: 10 }, (_, i) => ({ echoed: { i } })));
      expect(client.pendingCount()).toBe(0);
    });

    it('when the handler throws an AppError, then the caller gets the same code and message', async () => {
      await expect(client.request({ service, topic: requestTopic }, 'reject', {})).rejects.toMatchObject({
        code: 'XSV-350001',
        message: 'Invalid login or password.',
      });
    });

    it('when the handler crashes, then the caller gets a generic fault without the internals', async () => {
      const err = await client.request({ service, topic: requestTopic }, 'crash', {}).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: ErrorCodes.RPC_HANDLER_FAILED });
      expect((err as Error).message).not.toContain('boom internals');
    });

    it('when the method is unknown, then the caller gets RPC_NO_HANDLER', async () => {
      await expect(client.request({ service, topic: requestTopic }, 'nope', {})).rejects.toMatchObject({ code: ErrorCodes.RPC_NO_HANDLER });
    });

    it('when no reply comes by the deadline, then the call fails with a typed timeout instead of hanging', async () => {
      const started = Date.now();
      const err = await client.request({ service, topic: requestTopic }, 'slow', { ms: 1_500 }, { timeoutMs: 300 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ code: ErrorCodes.RPC_TIMEOUT, retriable: true });
      expect(Date.now() - started).toBeLessThan(1_200);
    });

    it('when requests outweigh the in-flight bounds, then the server holds the rest back (a lone oversized one still runs) and answers every one', async () => {
      const boundedService = 'bounded-svc';
      const boundedTopic = rpcRequestTopic(boundedService, 1);
      await messaging.ensureTopics([boundedTopic]);
      let active = 0;
      let activeBytes = 0;
      let peak = 0;
      let peakBytes = 0;
      let overBytesWithOthers = 0;
      const hold = async (params: unknown) => {
        const weight = JSON.stringify(params).length;
        active++;
        activeBytes += weight;
        peak = Math.max(peak, active);
        peakBytes = Math.max(peakBytes, activeBytes);
        if (active > 1 && activeBytes > 40_000) overBytesWithOthers++;
        await new Promise((r) => setTimeout(r, 150));
        active--;
        activeBytes -= weight;
        return weight;
      };
      const bounded = await startRpcServer(messaging, {
        service: boundedService,
        requestTopic: boundedTopic,
        groupId: uniqueId('bounded'),
        handlers: { hold },
        maxInFlight: 4,
        maxInFlightBytes: 40_000,
      });
      try {
        await bounded.ready;
        const target = { service: boundedService, topic: boundedTopic };
        // 12 small requests: at most 4 at once. Then 6 of ~15 kB: at most 2 at once by bytes (a message weighs a
        // little more than its params). Then one of ~60 kB, over the byte bound on its own: it runs alone.
        const small = await Promise.all(Array.from({ length: 12 }, (_, i) => client.request(target, 'hold', { i }, { timeoutMs: 10_000 })));
        expect(small).toHaveLength(12);
        expect(peak).toBe(4);
        peak = 0;
        const medium = await Promise.all(Array.from({ length: 6 }, () => client.request(target, 'hold', { pad: 'x'.repeat(15_000) }, { timeoutMs: 10_000 })));
        expect(medium).toHaveLength(6);
        expect(peak).toBe(2);
        const big = await client.request(target, 'hold', { pad: 'y'.repeat(60_000) }, { timeoutMs: 10_000 });
        expect(big).toBeGreaterThan(60_000);
        expect(overBytesWithOthers).toBe(0);
        expect(peakBytes).toBeGreaterThan(60_000);
      } finally {
        await bounded.stop();
      }
    });

    it('when a request names a reply topic that cannot exist, then it is dead-lettered or its reply dropped, and the server keeps serving', async () => {
      // Not from our clients (they always name a valid reply topic) but from anything else that can write to
      // the request topic. Neither case may take the server down (an unhandled rejection fails this test).
      const dead: string[] = [];
      const raw = messaging.kafka.consumer({ groupId: uniqueId('raw') });
      await raw.connect();
      await raw.subscribe({ topic: deadLetterName(messaging.topicName(requestTopic)), fromBeginning: true });
      await raw.run({ eachMessage: async ({ message }) => void dead.push(message.headers?.[HEADER.dlqReason]?.toString() ?? '') });
      try {
        const request = (replyTo: string) => ({
          key: uniqueId('k'),
          value: JSON.stringify({
            schemaVersion: 1,
            id: uniqueId('id'),
            type: requestTopic.name,
            occurredAt: new Date().toISOString(),
            payload: { method: 'count', params: null, replyTo, deadline: Date.now() + 30_000 },
          }),
        });
        const before = counted;
        const producer = await messaging.getProducer();
        // Not a Kafka topic name: refused before the handler runs. A legal Kafka name outside our naming
        // scheme: the handler runs (its work is done) and the reply is logged as undeliverable.
        await producer.send({ topic: messaging.topicName(requestTopic), messages: [request('no such topic!'), request('Not_Ours')] });
        await waitFor('the malformed reply topic to be dead-lettered', () => dead.length === 1);
        expect(dead[0]).toContain('replyTo must be a Kafka topic name');
        await waitFor('the request with an unusable reply topic to run', () => counted === before + 1);
        await expect(client.request({ service, topic: requestTopic }, 'echo', { after: true })).resolves.toEqual({ echoed: { after: true } });
      } finally {
        await raw.disconnect();
      }
    });

    it('when the reply or the deadline comes before the broker acknowledges the request, then only the caller sees the failure and the process lives', async () => {
      // Runs in its own Node process, which (like every service) dies on an unhandled rejection: jest's own
      // process would not show one that a later handler picks up.
      const options: LateAckOptions = { brokers: testEndpoints().kafkaBrokers, prefix: `${uniqueId('late')}.` };
      const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'late-ack.rpc-driver.ts'), JSON.stringify(options)], {
        cwd: join(__dirname, '..', '..', '..', '..'),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      const report = JSON.parse(out.trim().split('\n').pop() || '{}') as { outcomes?: LateAckOutcome[]; unhandled?: string };
      expect({ code, unhandled: report.unhandled, stderr: err.slice(-2_000) }).toEqual({ code: 0, unhandled: undefined, stderr: '' });
      expect(report.outcomes).toEqual([
        { ok: false, code: 'XSV-350001' },
        { ok: true, result: { method: 'echo' } },
        { ok: false, code: ErrorCodes.RPC_TIMEOUT },
      ]);
    }, 60_000);

    it('when a reply is written before the caller first fetches its reply partition, then the caller still gets it', async () => {
      // A caller is ready once its reply consumer joined its group; its first fetch, which finds where the partition
      // ends, comes later (much later on a loaded machine). Here that lookup is held until the reply is written.
      const holder = holdRequests({ hold: KAFKA_API.listOffsets, armAfter: KAFKA_API.syncGroup });
      const slowStarter = testMessaging({ clientId: uniqueId('slow-start'), topicPrefix: messaging.topicName(''), socketFactory: holder.socketFactory });
      const early = await startRpcClient(slowStarter, { instanceId: uniqueId('early'), defaultTimeoutMs: 6_000 });
      try {
        const before = counted;
        const reply = early.request({ service, topic: requestTopic }, 'count', null);
        await waitFor('the server to answer the call', () => counted === before + 1);
        await new Promise((r) => setTimeout(r, 500)); // the reply is on its partition by now
        holder.release();
        await expect(reply).resolves.toBe(before + 1);
      } finally {
        holder.release();
        await early.stop();
        await slowStarter.close();
      }
    });

    it('when nobody serves the topic, then the call times out at its deadline', async () => {
      const orphan = rpcRequestTopic('nobody-home', 1);
      await messaging.ensureTopics([orphan]);
      await expect(client.request({ service: 'nobody-home', topic: orphan }, 'x', {}, { timeoutMs: 400 })).rejects.toMatchObject({
        code: ErrorCodes.RPC_TIMEOUT,
      });
    });
  });
});
