import { Kafka, logLevel, Partitioners, type Admin, type IHeaders, type ISocketFactory, type LogEntry, type Message, type Producer } from 'kafkajs';
import type { Logger } from '@cap/platform-logger';
import { findCorrelationId } from '@cap/platform-logger';
import { encodeEnvelope, HEADER } from './envelope.codec';
import { kafkajsLogLevel } from './kafkajs.log';
import { patchKafkajs } from './kafkajs.patch';
import { exponentialBackoff } from '@cap/platform-resilience';
import { RETRY_PROFILES, type RetryProfile } from './retry.profile';
import { deadLetterName, type TopicDefinition } from './topic.definition';

export interface MessagingOptions {
  brokers: string[];
  clientId: string;
  /** Prepended to every physical topic name; lets several deployments (or test runs) share one cluster. */
  topicPrefix?: string;
  logger: Logger;
  retry?: RetryProfile;
  /** Upper bound for one broker health probe. */
  healthTimeoutMs?: number;
  /** Opens the client's broker connections (default: plain TCP). Tests pass one that can hold requests back. */
  socketFactory?: ISocketFactory;
}

const COALESCE_MAX_BYTES = 1024 * 1024;
/** Retries of a start-up step (topics, a consumer's join) logged at debug: a topic created a moment ago answers so. */
export const QUIET_RETRIES = 3;

/** A send refused because a topic does not exist (any more): kafkajs keeps asking for that topic's metadata. */
function isUnknownTopic(err: unknown): boolean {
  const e = err as { type?: string; message?: string; cause?: { type?: string }; originalError?: { type?: string } };
  const types = [e?.type, e?.cause?.type, e?.originalError?.type];
  return types.includes('UNKNOWN_TOPIC_OR_PARTITION') || /does not host this topic-partition|UNKNOWN_TOPIC_OR_PARTITION/.test(String(e?.message ?? ''));
}

interface PendingSend {
  topic: string;
  messages: Message[];
  bytes: number;
  resolve(): void;
  reject(err: unknown): void;
}

interface SendLane {
  pending: PendingSend[];
  sending: boolean;
}

export interface OutgoingMessage<T> {
  key?: string;
  /** An explicit partition (an RPC reply to its caller's partition); otherwise the key decides. */
  partition?: number;
  payload: T;
  correlationId?: string;
  headers?: Record<string, string>;
}

/**
 * The one place that talks to kafkajs for producing and administration. Consumers and RPC are built on it
 * (consumer.runner.ts, rpc.*.ts). Nothing outside this library imports kafkajs.
 */
export class Messaging {
  readonly kafka: Kafka;
  readonly retry: RetryProfile;
  readonly logger: Logger;
  private readonly prefix: string;
  private producer: Producer | undefined;
  private producerConnecting: Promise<Producer> | undefined;
  private bestEffortProducer: Promise<Producer> | undefined;
  private admin: Admin | undefined;
  private readonly healthTimeoutMs: number;

  constructor(options: MessagingOptions) {
    this.logger = options.logger.child({ module: 'kafka' });
    this.retry = options.retry ?? RETRY_PROFILES.default;
    this.prefix = options.topicPrefix ?? '';
    this.healthTimeoutMs = options.healthTimeoutMs ?? 2_000;
    const kafkaLogger = this.logger;
    // What kafkajs 2.2.4 does while idle (timers, short polls, slow stops) is fixed before the first client: kafkajs.patch.ts.
    patchKafkajs();
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      retry: this.retry.client,
      connectionTimeout: 3_000,
      requestTimeout: 10_000,
      ...(options.socketFactory ? { socketFactory: options.socketFactory } : {}),
      logLevel: logLevel.WARN,
      // Which kafkajs lines are errors, warnings or routine retries: kafkajs.log.ts.
      logCreator: () => (entry: LogEntry) => {
        const level = kafkajsLogLevel(entry);
        if (level === 'none') return;
        const { message, ...extra } = entry.log;
        kafkaLogger[level]({ event: 'kafka.client', kafkaNamespace: entry.namespace, ...extra }, message);
      },
    });
  }

  topicName(topic: TopicDefinition<unknown> | string): string {
    return this.prefix + (typeof topic === 'string' ? topic : topic.name);
  }

  /** Consumer groups carry the prefix too: deployments sharing a cluster never join each other's groups. */
  groupName(groupId: string): string {
    return this.prefix + groupId;
  }

  async getProducer(): Promise<Producer> {
    if (this.producer) return this.producer;
    this.producerConnecting ??= (async () => {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      this.producer = producer;
      return producer;
    })().finally(() => {
      this.producerConnecting = undefined;
    });
    return this.producerConnecting;
  }

  /**
   * Publishes typed messages; resolves once the broker has acknowledged them (acks=all). `bestEffort` sends
   * through a producer with a short retry schedule, for messages whose recipient may be gone (RPC replies):
   * a missing topic then fails in about a second instead of blocking through the long default schedule.
   *
   * Calls made while a send is in flight are coalesced into the next send (one produce request for all of
   * them, still in call order): the idempotent producer allows one request in flight, so without this every
   * publish — every RPC request of a busy gateway — would wait for the previous one's acknowledgement.
   */
  async publish<T>(topic: TopicDefinition<T>, messages: OutgoingMessage<T>[], options: { bestEffort?: boolean; validated?: boolean } = {}): Promise<void> {
    // Best-effort sends get a lane per topic: a reply topic whose caller is gone must not hold up the others.
    const laneKey = options.bestEffort ? `best-effort:${this.topicName(topic)}` : 'reliable';
    let lane = this.lanes.get(laneKey);
    if (!lane) {
      lane = { pending: [], sending: false };
      this.lanes.set(laneKey, lane);
    }
    const target = lane;
    const encoded: Message[] = messages.map((m) => ({
      key: m.key ?? null,
      value: encodeEnvelope(topic, m.payload, { validated: options.validated === true }),
      headers: this.headersFor(topic, m),
      ...(m.partition === undefined ? {} : { partition: m.partition }),
    }));
    return new Promise<void>((resolve, reject) => {
      target.pending.push({
        topic: this.topicName(topic),
        messages: encoded,
        bytes: encoded.reduce((n, m) => n + (m.value as Buffer).length, 0),
        resolve,
        reject,
      });
      if (!target.sending) void this.drain(laneKey, target, options.bestEffort === true);
    });
  }

  private readonly lanes = new Map<string, SendLane>();

  private async drain(laneKey: string, lane: SendLane, bestEffort: boolean): Promise<void> {
    lane.sending = true;
    try {
      while (lane.pending.length > 0) {
        // Take what is waiting, up to ~1 MiB (a single larger call goes alone).
        let bytes = 0;
        let count = 0;
        while (count < lane.pending.length && (count === 0 || bytes + lane.pending[count]!.bytes <= COALESCE_MAX_BYTES)) bytes += lane.pending[count++]!.bytes;
        const batch = lane.pending.splice(0, count);
        await this.sendCoalesced(batch, bestEffort);
      }
    } finally {
      lane.sending = false;
      if (lane.pending.length === 0 && laneKey !== 'reliable') this.lanes.delete(laneKey);
    }
  }

  private async sendCoalesced(batch: PendingSend[], bestEffort: boolean): Promise<void> {
    const send = async (items: PendingSend[]) => {
      const byTopic = new Map<string, Message[]>();
      for (const item of items) {
        const list = byTopic.get(item.topic);
        if (list) list.push(...item.messages);
        else byTopic.set(item.topic, [...item.messages]);
      }
      const producer = bestEffort ? await this.getBestEffortProducer() : await this.getProducer();
      await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    };
    try {
      await send(batch);
      for (const item of batch) item.resolve();
    } catch (err) {
      // kafkajs keeps a topic it once produced to in every later metadata request, and a topic deleted since
      // then fails them all (tulios/kafkajs#1622): a best-effort producer that met one is replaced by a new one.
      if (bestEffort && isUnknownTopic(err)) this.replaceBestEffortProducer();
      const topics = [...new Set(batch.map((i) => i.topic))];
      if (topics.length === 1) {
        for (const item of batch) item.reject(err);
        return;
      }
      // One bad topic (a caller's reply topic that is gone) must not fail the others: retry topic by topic.
      for (const topic of topics) {
        const items = batch.filter((i) => i.topic === topic);
        try {
          await send(items);
          for (const item of items) item.resolve();
        } catch (topicErr) {
          if (bestEffort && isUnknownTopic(topicErr)) this.replaceBestEffortProducer();
          for (const item of items) item.reject(topicErr);
        }
      }
    }
  }

  private getBestEffortProducer(): Promise<Producer> {
    this.bestEffortProducer ??= (async () => {
      // A few quick retries: enough for a metadata refresh when the topic is brand new (a caller that just
      // started), short enough (≈ 1 s) not to hold a partition when the topic is gone.
      const producer = this.kafka.producer({
        allowAutoTopicCreation: false,
        retry: { initialRetryTime: 100, retries: 4, maxRetryTime: 400 },
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      return producer;
    })();
    this.bestEffortProducer.catch(() => (this.bestEffortProducer = undefined));
    return this.bestEffortProducer;
  }

  /** Drops the best-effort producer (and the topics it remembers); the next send connects a new one. */
  private replaceBestEffortProducer(): void {
    const old = this.bestEffortProducer;
    this.bestEffortProducer = undefined;
    // Sends already on the old producer finish first: it is closed a little later.
    setTimeout(() => void old?.then((p) => p.disconnect()).catch(() => undefined), 5_000).unref();
    this.logger.warn({ event: 'kafka.producer.replaced' }, 'a send met a deleted topic: the reply producer is replaced');
  }

  /** Publishes messages as they were received (a quarantined message replayed) to a physical topic. */
  async publishRaw(physicalTopic: string, messages: { key: string | null; value: Buffer | null; headers: Record<string, string> }[]): Promise<void> {
    if (messages.length === 0) return;
    const producer = await this.getProducer();
    await producer.send({ topic: physicalTopic, acks: -1, messages: messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })) });
  }

  /** Publishes raw bytes to a topic's dead-letter twin, with the reason in headers. */
  async publishDeadLetter(
    topic: TopicDefinition<unknown>,
    original: { key: Buffer | null; value: Buffer | null; headers: IHeaders; partition: number; offset: string },
    reason: { code: string; message: string },
  ): Promise<void> {
    const producer = await this.getProducer();
    await producer.send({
      topic: deadLetterName(this.topicName(topic)),
      acks: -1,
      messages: [
        {
          key: original.key,
          value: original.value,
          headers: {
            ...original.headers,
            [HEADER.dlqReason]: reason.message.slice(0, 2_000),
            [HEADER.dlqErrorCode]: reason.code,
            [HEADER.dlqOriginalTopic]: this.topicName(topic),
            [HEADER.dlqOriginalPartition]: String(original.partition),
            [HEADER.dlqOriginalOffset]: original.offset,
          },
        },
      ],
    });
  }

  /**
   * Creates each topic (and its .dlq twin) if missing; existing topics are left as they are. A broker that
   * has just started (or just created other topics) may answer with retriable metadata errors for a moment:
   * the whole check is tried again with backoff before giving up.
   */
  async ensureTopics(topics: TopicDefinition<unknown>[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.ensureTopicsOnce(topics);
      } catch (err) {
        const retriable = (err as { retriable?: boolean }).retriable === true || (err as Error).name === 'KafkaJSNumberOfRetriesExceeded';
        if (!retriable || attempt >= 8) throw err;
        // Right after topics were created the first tries are routine (debug); still failing after that, a warning.
        this.logger[attempt < QUIET_RETRIES ? 'debug' : 'warn'](
          { event: 'kafka.topics.retry', attempt, err: { message: (err as Error).message } },
          'topics not ready yet; retrying',
        );
        await new Promise((r) => setTimeout(r, exponentialBackoff(attempt, { initialMs: 250, maxMs: 4_000, jitter: 'equal' })));
      }
    }
  }

  private async ensureTopicsOnce(topics: TopicDefinition<unknown>[]): Promise<void> {
    const admin = await this.getAdmin();
    const existing = new Set(await admin.listTopics());
    const wanted = topics.flatMap((t) => {
      const configEntries = [{ name: 'retention.ms', value: String(t.retentionMs) }];
      if (t.maxMessageBytes !== undefined) configEntries.push({ name: 'max.message.bytes', value: String(t.maxMessageBytes) });
      const base = { numPartitions: t.partitions, configEntries };
      const out = [{ topic: this.topicName(t), ...base }];
      if (t.deadLetter) out.push({ topic: deadLetterName(this.topicName(t)), ...base });
      return out;
    });
    const missing = wanted.filter((t) => !existing.has(t.topic));
    if (missing.length === 0) return;
    try {
      await admin.createTopics({ topics: missing, waitForLeaders: true });
    } catch (err) {
      // Another process (a replica, another service) may have created some of them at the same moment.
      const now = new Set(await admin.listTopics());
      const stillMissing = missing.filter((t) => !now.has(t.topic));
      if (stillMissing.length > 0) throw err;
      return;
    }
    this.logger.info({ event: 'kafka.topics.created', topics: missing.map((t) => t.topic) }, 'topics created');
  }

  /** Physical names of every topic of the cluster. */
  async listTopics(): Promise<string[]> {
    return (await this.getAdmin()).listTopics();
  }

  /** The offset the next message of each partition of a topic will get (its high watermark), by partition. */
  async endOffsets(topic: TopicDefinition<unknown>): Promise<Map<number, string>> {
    const offsets = await (await this.getAdmin()).fetchTopicOffsets(this.topicName(topic));
    return new Map(offsets.map((o) => [o.partition, o.high]));
  }

  async deleteTopics(names: string[]): Promise<void> {
    if (names.length === 0) return;
    const admin = await this.getAdmin();
    await admin.deleteTopics({ topics: names, timeout: 5_000 });
  }

  /** Readiness probe: the cluster answers a metadata request within the health timeout. */
  async checkHealth(): Promise<void> {
    const admin = await this.getAdmin();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        admin.describeCluster(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`Kafka did not answer within ${this.healthTimeoutMs} ms`)), this.healthTimeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    const admin = this.admin;
    this.admin = undefined;
    const bestEffort = this.bestEffortProducer;
    this.bestEffortProducer = undefined;
    await Promise.allSettled([producer?.disconnect(), admin?.disconnect(), bestEffort?.then((p) => p.disconnect())]);
  }

  private async getAdmin(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.kafka.admin({ retry: { ...this.retry.client, retries: Math.min(this.retry.client.retries, 2) } });
      await admin.connect();
      this.admin = admin;
    }
    return this.admin;
  }

  private headersFor<T>(topic: TopicDefinition<T>, m: OutgoingMessage<T>): Record<string, string> {
    const correlationId = m.correlationId ?? findCorrelationId();
    return {
      ...m.headers,
      [HEADER.schemaVersion]: String(topic.schemaVersion),
      [HEADER.contentType]: 'application/json',
      ...(correlationId === undefined ? {} : { [HEADER.correlationId]: correlationId }),
    };
  }
}

export function createMessaging(options: MessagingOptions): Messaging {
  return new Messaging(options);
}

export function headerValue(headers: IHeaders | undefined, name: string): string | undefined {
  const raw = headers?.[name];
  const first = Array.isArray(raw) ? raw[0] : raw;
  if (first === undefined || first === null) return undefined;
  return typeof first === 'string' ? first : first.toString('utf8');
}
