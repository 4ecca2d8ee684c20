import { Kafka, logLevel, type Admin, type IHeaders, type LogEntry, type Producer } from 'kafkajs';
import type { Logger } from '@cap/platform-logger';
import { findCorrelationId } from '@cap/platform-logger';
import { encodeEnvelope, HEADER } from './envelope.codec';
import { backoffDelay, RETRY_PROFILES, type RetryProfile } from './retry.profile';
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
}

export interface OutgoingMessage<T> {
  key?: string;
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
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      retry: this.retry.client,
      connectionTimeout: 3_000,
      requestTimeout: 10_000,
      logLevel: logLevel.WARN,
      logCreator: () => (entry: LogEntry) => {
        const { message, ...extra } = entry.log;
        const line = { event: 'kafka.client', kafkaNamespace: entry.namespace, ...extra };
        // Connection-level errors are answers to single requests that kafkajs retries by itself (for example
        // "coordinator loading" while a broker starts); they are warnings unless the client gives up.
        if (entry.level <= logLevel.ERROR && entry.namespace !== 'Connection') kafkaLogger.error(line, message);
        else kafkaLogger.warn(line, message);
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
      const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
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
   */
  async publish<T>(topic: TopicDefinition<T>, messages: OutgoingMessage<T>[], options: { bestEffort?: boolean } = {}): Promise<void> {
    const producer = options.bestEffort ? await this.getBestEffortProducer() : await this.getProducer();
    await producer.send({
      topic: this.topicName(topic),
      acks: -1,
      messages: messages.map((m) => ({
        key: m.key ?? null,
        value: encodeEnvelope(topic, m.payload),
        headers: this.headersFor(topic, m),
      })),
    });
  }

  private getBestEffortProducer(): Promise<Producer> {
    this.bestEffortProducer ??= (async () => {
      // A few quick retries: enough for a metadata refresh when the topic is brand new (a caller that just
      // started), short enough (≈ 1 s) not to hold a partition when the topic is gone.
      const producer = this.kafka.producer({ allowAutoTopicCreation: false, retry: { initialRetryTime: 100, retries: 4, maxRetryTime: 400 } });
      await producer.connect();
      return producer;
    })();
    this.bestEffortProducer.catch(() => (this.bestEffortProducer = undefined));
    return this.bestEffortProducer;
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
        this.logger.warn({ event: 'kafka.topics.retry', attempt, err: { message: (err as Error).message } }, 'topics not ready yet; retrying');
        await new Promise((r) => setTimeout(r, backoffDelay(attempt, { attempts: 0, initialDelayMs: 250, maxDelayMs: 4_000 })));
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
