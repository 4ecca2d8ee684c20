import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, EachBatchHandler, EachMessageHandler, IHeaders } from 'kafkajs';
import { isAppError } from '@cap/platform-errors';
import { newCorrelationId, withCorrelationId, type Logger } from '@cap/platform-logger';
import { exponentialBackoff, type ExponentialBackoff } from '@cap/platform-resilience';
import { decodeEnvelope, HEADER, type Envelope } from './envelope.codec';
import type { MessageQuarantine, QuarantineEntry } from './message.quarantine';
import { headerValue, QUIET_RETRIES, type Messaging } from './messaging';
import { PositionBook } from './position.book';
import type { TopicDefinition } from './topic.definition';

export interface IncomingMessage<T> {
  envelope: Envelope<T>;
  key: string | undefined;
  headers: IHeaders;
  correlationId: string;
  topic: string;
  partition: number;
  offset: string;
  /** Bytes of the message value (what the message weighs in memory once decoded, roughly). */
  size: number;
}

export interface ConsumerRunnerOptions<T> {
  groupId: string;
  topic: TopicDefinition<T>;
  handle: (message: IncomingMessage<T>) => Promise<void>;
  /** Partitions processed in parallel (order is kept within a partition). */
  concurrency?: number;
  /** Read a topic from its start when the group has no committed offset. */
  fromBeginning?: boolean;
  /**
   * Run the handler inside the message's correlation context (log lines and onward publishes carry its id).
   * Default true. A consumer whose handler neither logs per message nor publishes (RPC replies) turns it off:
   * the context is an AsyncLocalStorage, and once one is entered Node runs promise hooks on every promise of
   * the process, which costs a request-serving process like the gateway ~5 % of its CPU.
   */
  correlationContext?: boolean;
  /** Only these partitions are read (the others are paused): an RPC caller reads its own reply partition. */
  onlyPartitions?: number[];
  /**
   * For a group that commits nothing: read every message written after `ready`, and none written before. Without
   * it such a group starts at the end of each partition as of its first fetch, which comes some time after it
   * joined: a message written in between (a reply to a call made as soon as the caller was ready) is never read.
   */
  fromReady?: boolean;
  /**
   * Commit offsets (default true). A reply consumer commits none: a group that never committed disappears as
   * soon as its only member leaves, so the per-instance groups of callers leave nothing behind. Such a consumer
   * keeps its position in memory instead: after a crash, a rebuild or a rejoin it reads on from the message after
   * the last one it handled (or from where it first became ready), so nothing written while it was away is skipped.
   */
  commitOffsets?: boolean;
  /** Heartbeat interval of the group member (default 3 s); a shorter one learns of a rebalance sooner. */
  heartbeatIntervalMs?: number;
  /** How long the group waits for a member that stopped heartbeating (died) before reassigning its partitions (default 10 s). */
  sessionTimeoutMs?: number;
  /** Where messages that cannot be processed go instead of the `.dlq` twin, holding their key's later messages. */
  quarantine?: QuarantineOptions;
}

export interface QuarantineOptions {
  store: MessageQuarantine;
  /** The consumer's name in the quarantine (default: its group id). */
  consumer?: string;
  /**
   * The consumer's name in the quarantine for each topic it reads (by topic name), when one group reads topics
   * whose keys are unrelated: a quarantined key of one topic then holds nothing of another. Topics not named here
   * take `consumer`. Taken by runBatchConsumer.
   */
  consumerByTopic?: Readonly<Record<string, string>>;
  /**
   * A message that keeps failing with a retriable error is quarantined once it has failed this long while other
   * messages of the consumer succeeded meanwhile (so a database outage, which fails them all, quarantines nothing).
   * Default 30 s.
   */
  retryBudgetMs?: number;
}

/** What the runners share about one consumer's quarantine. */
function quarantineOf(messaging: Messaging, groupId: string, options: QuarantineOptions | undefined, logger: Logger) {
  if (!options) return undefined;
  const consumer = options.consumer ?? groupId;
  const budgetMs = options.retryBudgetMs ?? 30_000;
  let lastSuccessAt = 0;
  const entry = (
    original: OriginalMessage,
    topic: TopicDefinition<unknown>,
    reason: { code: string; message: string },
    state: QuarantineEntry['state'],
  ): QuarantineEntry => ({
    consumer,
    topic: messaging.topicName(topic),
    partition: original.partition,
    offset: original.offset,
    key: original.key?.toString('utf8') ?? null,
    value: original.value,
    headers: Object.fromEntries(
      Object.entries(original.headers).flatMap(([k, v]) =>
        v === undefined ? [] : [[k, Array.isArray(v) ? String(v[0]) : Buffer.isBuffer(v) ? v.toString('utf8') : String(v)]],
      ),
    ),
    reasonCode: reason.code,
    reason: reason.message.slice(0, 2_000),
    state,
  });
  return {
    consumer,
    succeeded: () => (lastSuccessAt = Date.now()),
    /** Retriable failures past the budget while the consumer was otherwise working: a poison message. */
    isPoison: (firstFailureAt: number) => Date.now() - firstFailureAt >= budgetMs && lastSuccessAt > firstFailureAt,
    /** The keys of `keys` held behind a quarantined message (none looked up while the consumer has none). */
    async held(keys: (string | undefined)[]): Promise<Set<string>> {
      const present = [...new Set(keys.filter((k): k is string => k !== undefined))];
      if (present.length === 0 || !(await options.store.hasQuarantined(consumer))) return new Set();
      return options.store.heldKeys(consumer, present);
    },
    async put(
      original: OriginalMessage,
      topic: TopicDefinition<unknown>,
      reason: { code: string; message: string },
      state: QuarantineEntry['state'],
    ): Promise<void> {
      await options.store.put([entry(original, topic, reason, state)]);
      const event = state === 'held' ? 'kafka.message.held' : 'kafka.message.quarantined';
      logger.warn(
        { event, partition: original.partition, offset: original.offset, key: original.key?.toString('utf8'), reason },
        state === 'held' ? 'message held behind a quarantined message of its key' : 'message quarantined',
      );
    },
  };
}

/**
 * The quarantine of each topic a batch consumer reads (by physical topic name): one for them all, unless
 * `consumerByTopic` names a topic's own (then its poison verdict counts that topic's successes only).
 */
function quarantinesByTopic(messaging: Messaging, groupId: string, topics: TopicDefinition<unknown>[], options: QuarantineOptions | undefined, logger: Logger) {
  const shared = quarantineOf(messaging, groupId, options, logger);
  const own = new Map(
    topics.flatMap((t) => {
      const consumer = options?.consumerByTopic?.[t.name];
      return consumer === undefined ? [] : [[messaging.topicName(t), quarantineOf(messaging, groupId, { ...options!, consumer }, logger)] as const];
    }),
  );
  return (topicName: string) => own.get(topicName) ?? shared;
}

/** Why a message failed, for the quarantine or the dead-letter topic. */
function reasonOf(err: unknown): { code: string; message: string } {
  return { code: isAppError(err) ? err.code : 'UNHANDLED', message: err instanceof Error ? err.message : String(err) };
}

export interface ConsumerRunner {
  /** Resolves once the consumer has joined its group and been assigned partitions. */
  readonly ready: Promise<void>;
  /** Readiness probe: rejects while the consumer is not a settled member of its group (joining, crashed, stopped). */
  checkHealth(): Promise<void>;
  /** Stops fetching, waits for in-flight handlers to finish and commit, then disconnects. */
  stop(): Promise<void>;
}

/**
 * Runs a consumer with the platform's delivery rules:
 * - invalid envelopes and non-retriable failures go to the topic's dead-letter twin with the reason in
 *   headers, and the consumer carries on;
 * - retriable failures (AppError.retriable) are retried with backoff; if they still fail the offset is not
 *   committed, so the message is delivered again later (nothing is lost);
 * - offsets are committed only after the handler (or the dead-letter publish) has completed.
 */
export async function runConsumer<T>(messaging: Messaging, options: ConsumerRunnerOptions<T>): Promise<ConsumerRunner> {
  const logger = messaging.logger.child({ consumerGroup: options.groupId, topic: options.topic.name });
  let stopping = false;
  const quarantine = quarantineOf(messaging, options.groupId, options.quarantine, logger);
  /** When each message now failing first failed (`partition:offset`), across its redeliveries. */
  const firstFailure = new Map<string, number>();
  const positions = options.commitOffsets === false ? new PositionBook() : undefined;
  const eachMessage: EachMessageHandler = async ({ topic, partition, message }) => {
    const correlationId = headerValue(message.headers, HEADER.correlationId) ?? newCorrelationId();
    const inContext =
      options.correlationContext === false ? (fn: () => Promise<void>) => fn() : (fn: () => Promise<void>) => withCorrelationId(correlationId, fn);
    const handleOne = async () => {
      const original = toOriginal(message, partition);
      let envelope: Envelope<T>;
      try {
        envelope = decodeEnvelope(options.topic, message.value);
      } catch (err) {
        if (quarantine) await quarantine.put(original, options.topic, reasonOf(err), 'quarantined');
        else await deadLetter(messaging, options.topic, original, reasonOf(err), logger);
        return;
      }
      const key = message.key?.toString('utf8');
      if (quarantine && (await quarantine.held([key])).has(key!)) {
        await quarantine.put(original, options.topic, { code: 'HELD', message: 'a message of this key is quarantined' }, 'held');
        return;
      }
      const incoming: IncomingMessage<T> = {
        envelope,
        key: message.key?.toString('utf8'),
        headers: original.headers,
        correlationId,
        topic,
        partition,
        offset: message.offset,
        size: message.value?.length ?? 0,
      };
      const id = `${partition}:${message.offset}`;
      for (let attempt = 1; ; attempt++) {
        try {
          await options.handle(incoming);
          quarantine?.succeeded();
          firstFailure.delete(id);
          return;
        } catch (err) {
          const retriable = isAppError(err) && err.retriable;
          if (!retriable) {
            firstFailure.delete(id);
            if (quarantine) await quarantine.put(original, options.topic, reasonOf(err), 'quarantined');
            else await deadLetter(messaging, options.topic, original, reasonOf(err), logger);
            return;
          }
          if (attempt >= messaging.retry.handler.attempts || stopping) {
            const first = firstFailure.get(id) ?? Date.now();
            firstFailure.set(id, first);
            if (quarantine && !stopping && quarantine.isPoison(first)) {
              firstFailure.delete(id);
              await quarantine.put(
                original,
                options.topic,
                { ...reasonOf(err), message: `kept failing while other messages succeeded: ${reasonOf(err).message}` },
                'quarantined',
              );
              return;
            }
            logger.warn({ event: 'kafka.message.redeliver', partition, offset: message.offset, err }, 'retries exhausted; leaving uncommitted for redelivery');
            throw err;
          }
          await sleep(
            exponentialBackoff(attempt, { initialMs: messaging.retry.handler.initialDelayMs, maxMs: messaging.retry.handler.maxDelayMs, jitter: 'equal' }),
          );
        }
      }
    };
    await inContext(async () => {
      await handleOne();
      // Reached once the message is dealt with (handled, dead-lettered or quarantined); a throw leaves it to be read again.
      positions?.advance(topic, partition, message.offset);
    });
  };
  return superviseConsumer(messaging, {
    groupId: options.groupId,
    topics: [options.topic],
    fromBeginning: options.fromBeginning ?? false,
    logger,
    consumerConfig: {
      maxWaitTimeInMs: 250,
      ...(options.heartbeatIntervalMs ? { heartbeatIntervalMs: options.heartbeatIntervalMs } : {}),
      ...(options.sessionTimeoutMs ? { sessionTimeoutMs: options.sessionTimeoutMs } : {}),
    },
    ...(options.onlyPartitions ? { onlyPartitions: options.onlyPartitions } : {}),
    fromReady: options.fromReady === true,
    ...(positions ? { positions } : {}),
    run: (consumer) =>
      consumer.run({
        autoCommit: options.commitOffsets !== false,
        autoCommitInterval: 1_000,
        partitionsConsumedConcurrently: options.concurrency ?? 1,
        eachMessage,
      }),
    onStop: () => {
      stopping = true;
    },
  });
}

type RawMessage = { key: Buffer | null; value: Buffer | null; headers?: IHeaders; offset: string };
type OriginalMessage = { key: Buffer | null; value: Buffer | null; headers: IHeaders; partition: number; offset: string };

function toOriginal(message: RawMessage, partition: number): OriginalMessage {
  return { key: message.key, value: message.value, headers: message.headers ?? {}, partition, offset: message.offset };
}

async function deadLetter(
  messaging: Messaging,
  topic: TopicDefinition<unknown>,
  original: OriginalMessage,
  reason: { code: string; message: string },
  logger: Logger,
): Promise<void> {
  if (!topic.deadLetter) {
    logger.error(
      { event: 'kafka.message.dropped', partition: original.partition, offset: original.offset, reason },
      'message failed and topic has no dead-letter twin',
    );
    return;
  }
  await messaging.publishDeadLetter(topic, original, reason);
  logger.warn({ event: 'kafka.message.dead_lettered', partition: original.partition, offset: original.offset, reason }, 'message sent to dead-letter topic');
}

export interface BatchConsumerOptions<T> {
  groupId: string;
  /** Topics consumed by one group (they share a payload type). */
  topics: TopicDefinition<T>[];
  /** Most messages handed to one `handleBatch` call; a fetched batch is cut into chunks of this size. */
  maxBatchSize: number;
  /** How long the broker may wait to fill a fetch (batching by time when traffic is low). */
  maxWaitMs?: number;
  /**
   * Bytes a fetch waits for (up to `maxWaitMs`) before the broker answers (batching by size). Default 1: any
   * message is handed over at once, so a trickle makes batches of one or two messages, each paying a whole
   * transaction; a larger value trades up to `maxWaitMs` of latency for fewer, larger batches.
   */
  minBytes?: number;
  /** Partitions processed in parallel (order is kept within a partition). */
  concurrency?: number;
  fromBeginning?: boolean;
  /**
   * Applies a batch (messages of ONE partition, in offset order). Resolving means every message is done:
   * its offset is committed next. Throwing a non-retriable AppError means the batch holds a poison message:
   * the runner then applies the messages one by one and dead-letters those that fail that way. Any other
   * error (a database or broker outage) is retried with backoff for as long as the partition is ours.
   */
  handleBatch(messages: IncomingMessage<T>[]): Promise<void>;
  /** Called with every dead-lettered or quarantined message (after it was stored), for metrics and acks. */
  onDeadLetter?(message: IncomingMessage<T> | undefined, reason: { code: string; message: string }): Promise<void> | void;
  /** Delay bounds between retries of a failing batch. */
  retryDelayMs?: { initial: number; max: number };
  /** Where messages that cannot be processed go instead of the `.dlq` twins, holding their key's later messages. */
  quarantine?: QuarantineOptions;
}

/**
 * A consumer that hands batches to its handler and commits each batch's offsets only once the handler has
 * resolved (for staging-sync: after the cloud transaction committed). A member that dies mid-batch leaves
 * the batch uncommitted, so the next owner of the partition applies it again (handlers are idempotent).
 */
export async function runBatchConsumer<T>(messaging: Messaging, options: BatchConsumerOptions<T>): Promise<ConsumerRunner> {
  const logger = messaging.logger.child({ consumerGroup: options.groupId, topics: options.topics.map((t) => t.name) });
  let stopping = false;
  const byName = new Map(options.topics.map((t) => [messaging.topicName(t), t]));
  const quarantineOfTopic = quarantinesByTopic(messaging, options.groupId, options.topics, options.quarantine, logger);
  const retryDelay: ExponentialBackoff = { initialMs: options.retryDelayMs?.initial ?? 200, maxMs: options.retryDelayMs?.max ?? 5_000, jitter: 'equal' };

  const eachBatch: EachBatchHandler = async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
    const topic = byName.get(batch.topic)!;
    const quarantine = quarantineOfTopic(batch.topic);
    const live = () => isRunning() && !isStale() && !stopping;
    for (let from = 0; from < batch.messages.length; from += options.maxBatchSize) {
      if (!live()) return;
      const chunk = batch.messages.slice(from, from + options.maxBatchSize);
      const decoded: IncomingMessage<T>[] = [];
      // The raw messages, for dead-lettering; a plain Map that lives as long as the chunk (a WeakMap entry per
      // message cost the garbage collector more than decoding it).
      const originals = new Map<IncomingMessage<T>, OriginalMessage>();
      for (const message of chunk) {
        try {
          const incoming: IncomingMessage<T> = {
            envelope: decodeEnvelope(topic, message.value),
            key: message.key?.toString('utf8'),
            headers: message.headers ?? {},
            correlationId: headerValue(message.headers, HEADER.correlationId) ?? newCorrelationId(),
            topic: batch.topic,
            partition: batch.partition,
            offset: message.offset,
            size: message.value?.length ?? 0,
          };
          originals.set(incoming, toOriginal(message, batch.partition));
          decoded.push(incoming);
        } catch (err) {
          if (quarantine) await quarantine.put(toOriginal(message, batch.partition), topic, reasonOf(err), 'quarantined');
          else await deadLetter(messaging, topic, toOriginal(message, batch.partition), reasonOf(err), logger);
          await options.onDeadLetter?.(undefined, { code: 'INVALID_ENVELOPE', message: (err as Error).message });
        }
      }
      // Messages of a key with a quarantined message wait behind it, in order.
      const held = quarantine ? await quarantine.held(decoded.map((m) => m.key)) : new Set<string>();
      const ready = held.size === 0 ? decoded : [];
      for (const m of held.size === 0 ? [] : decoded) {
        if (m.key !== undefined && held.has(m.key))
          await quarantine!.put(originals.get(m)!, topic, { code: 'HELD', message: 'a message of this key is quarantined' }, 'held');
        else ready.push(m);
      }
      if (ready.length > 0) {
        const done = await applyWithRetry(ready, originals, live, heartbeat);
        if (!done) return; // partition lost or stopping: leave the chunk uncommitted
      }
      resolveOffset(chunk[chunk.length - 1]!.offset);
      await commitOffsetsIfNecessary();
      await heartbeat();
    }
  };

  /** A message that cannot be processed: quarantined (or dead-lettered), then reported. */
  async function setAside(
    m: IncomingMessage<T>,
    originals: ReadonlyMap<IncomingMessage<T>, OriginalMessage>,
    reason: { code: string; message: string },
  ): Promise<void> {
    const quarantine = quarantineOfTopic(m.topic);
    if (quarantine) await quarantine.put(originals.get(m)!, byName.get(m.topic)!, reason, 'quarantined');
    else await deadLetter(messaging, byName.get(m.topic)!, originals.get(m)!, reason, logger);
    await options.onDeadLetter?.(m, reason);
  }

  /**
   * The messages one at a time, so that only a poison one is set aside: a later message of its key is held
   * behind it (with a quarantine). False when we gave the partition up first.
   */
  async function oneByOne(
    messages: IncomingMessage<T>[],
    originals: ReadonlyMap<IncomingMessage<T>, OriginalMessage>,
    live: () => boolean,
    heartbeat: () => Promise<void>,
  ): Promise<boolean> {
    const setAsideKeys = new Set<string>();
    const quarantine = quarantineOfTopic(messages[0]!.topic);
    for (const m of messages) {
      if (quarantine && m.key !== undefined && setAsideKeys.has(m.key)) {
        await quarantine.put(originals.get(m)!, byName.get(m.topic)!, { code: 'HELD', message: 'a message of this key is quarantined' }, 'held');
        continue;
      }
      const outcome = await applyWithRetry([m], originals, live, heartbeat);
      if (outcome === false) return false;
      if (outcome === 'set-aside' && m.key !== undefined) setAsideKeys.add(m.key);
    }
    return true;
  }

  /**
   * True when every message is applied, 'set-aside' when the (single) message was quarantined or dead-lettered,
   * false when we gave the partition up first.
   */
  async function applyWithRetry(
    messages: IncomingMessage<T>[],
    originals: ReadonlyMap<IncomingMessage<T>, OriginalMessage>,
    live: () => boolean,
    heartbeat: () => Promise<void>,
  ): Promise<boolean | 'set-aside'> {
    let firstFailureAt: number | undefined;
    const quarantine = quarantineOfTopic(messages[0]!.topic);
    for (let attempt = 1; ; attempt++) {
      try {
        await options.handleBatch(messages);
        quarantine?.succeeded();
        return true;
      } catch (err) {
        if (isAppError(err) && !err.retriable) {
          if (messages.length === 1) {
            await setAside(messages[0]!, originals, { code: err.code, message: err.message });
            return 'set-aside';
          }
          // A poison message somewhere: apply one by one, so the others still land.
          return oneByOne(messages, originals, live, heartbeat);
        }
        if (!live()) return false;
        firstFailureAt ??= Date.now();
        if (quarantine) {
          // A batch that keeps failing may hold one message that always fails: one at a time finds it, while a
          // database outage fails them all and nothing is set aside.
          if (messages.length > 1 && attempt >= 3) return oneByOne(messages, originals, live, heartbeat);
          if (messages.length === 1 && quarantine.isPoison(firstFailureAt)) {
            await setAside(messages[0]!, originals, { ...reasonOf(err), message: `kept failing while other messages succeeded: ${reasonOf(err).message}` });
            return 'set-aside';
          }
        }
        const delay = exponentialBackoff(Math.min(attempt, 8), retryDelay);
        logger.warn(
          { event: 'kafka.batch.retry', attempt, delayMs: delay, size: messages.length, err: { message: (err as Error).message } },
          'batch failed; retrying',
        );
        await sleep(delay);
        await heartbeat().catch(() => undefined);
        if (!live()) return false;
      }
    }
  }

  return superviseConsumer(messaging, {
    groupId: options.groupId,
    topics: options.topics,
    fromBeginning: options.fromBeginning ?? false,
    logger,
    consumerConfig: { maxWaitTimeInMs: options.maxWaitMs ?? 100, ...(options.minBytes ? { minBytes: options.minBytes } : {}) },
    run: (consumer) =>
      consumer.run({
        eachBatchAutoResolve: false,
        autoCommit: true,
        autoCommitThreshold: 1,
        partitionsConsumedConcurrently: options.concurrency ?? 1,
        eachBatch,
      }),
    onStop: () => {
      stopping = true;
    },
  });
}

interface SuperviseOptions {
  groupId: string;
  topics: TopicDefinition<unknown>[];
  fromBeginning: boolean;
  logger: Logger;
  consumerConfig: { maxWaitTimeInMs: number; minBytes?: number; heartbeatIntervalMs?: number; sessionTimeoutMs?: number };
  onlyPartitions?: number[];
  fromReady?: boolean;
  /** Where a consumer that commits nothing reads on from after any (re)join: PositionBook. */
  positions?: PositionBook;
  run(consumer: Consumer): Promise<void>;
  /** Called first when the runner is stopped (its handlers stop retrying). */
  onStop(): void;
}

/**
 * The lifecycle shared by every consumer: join the group (retrying while a broker starts), report
 * readiness, and rebuild a consumer that crashed in a way kafkajs does not restart by itself.
 */
async function superviseConsumer(messaging: Messaging, options: SuperviseOptions): Promise<ConsumerRunner> {
  const { logger } = options;
  let stopping = false;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  let state: { joined: boolean; problem?: string } = { joined: false, problem: 'joining its group' };
  let consumer: Consumer | undefined;
  let restarts = 0;
  /** Joined once: a rebuilt member reads on from its positions, not from the ends as of its rebuild. */
  let started = false;

  /**
   * kafkajs restarts a crashed consumer by itself only for some errors; for the others (for example no
   * group coordinator yet on a broker that is still starting) the runner builds a new consumer after a
   * backoff, so a service never stays silently deaf.
   */
  const scheduleRestart = () => {
    const delay = exponentialBackoff(Math.min(++restarts, 6), { initialMs: 500, maxMs: 10_000, jitter: 'equal' });
    logger.warn({ event: 'kafka.consumer.restarting', delayMs: delay, restarts }, 'restarting crashed consumer');
    setTimeout(() => {
      if (stopping) return;
      Promise.resolve(consumer?.disconnect())
        .catch(() => undefined)
        .then(() => (stopping ? undefined : start()))
        .catch((err: unknown) => {
          logger.error({ event: 'kafka.consumer.restart_failed', err }, 'consumer restart failed');
          if (!stopping) scheduleRestart();
        });
    }, delay).unref();
  };

  const start = async () => {
    // Where each partition ends before the member joins: where it starts reading once joined (fromReady). A topic
    // created a moment ago may not answer yet: the start is retried like a join.
    const ends =
      options.fromReady && !started
        ? await Promise.all(options.topics.map(async (t) => ({ topic: messaging.topicName(t), ends: await messaging.endOffsets(t) })))
        : [];
    for (const { topic, ends: partitionEnds } of ends) {
      for (const [partition, offset] of partitionEnds) options.positions?.start(topic, partition, offset);
    }
    const member = messaging.kafka.consumer({
      groupId: messaging.groupName(options.groupId),
      allowAutoTopicCreation: false,
      retry: messaging.retry.client,
      maxWaitTimeInMs: options.consumerConfig.maxWaitTimeInMs,
      ...(options.consumerConfig.minBytes ? { minBytes: options.consumerConfig.minBytes } : {}),
      // A member that died without leaving is replaced after 10 s by default (kafkajs' default is 30 s).
      sessionTimeout: options.consumerConfig.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: options.consumerConfig.heartbeatIntervalMs ?? 3_000,
    });
    consumer = member;
    member.on(member.events.GROUP_JOIN, () => {
      // Before the first fetch (kafkajs emits this before it starts fetching). Every partition, paused ones
      // included: kafkajs resolves the position of each before its first fetch. A consumer that commits nothing
      // is put back where it was at every join (a rejoin, kafkajs' own restart, or this member rebuilt after a
      // crash): otherwise it would start at the partition's end and skip what was written while it was away.
      if (options.positions) {
        for (const { topic, partition, offset } of options.positions.all()) member.seek({ topic, partition, offset });
      } else {
        for (const { topic, ends: partitionEnds } of ends.splice(0)) {
          for (const [partition, offset] of partitionEnds) member.seek({ topic, partition, offset });
        }
      }
      started = true;
      state = { joined: true };
      restarts = 0;
      markReady();
    });
    member.on(member.events.REBALANCING, () => (state = { joined: false, problem: 'rebalancing' }));
    member.on(member.events.CRASH, ({ payload }) => {
      state = { joined: false, problem: `crashed: ${payload.error.message}${payload.restart ? ' (restarting)' : ''}` };
      logger.error({ event: 'kafka.consumer.crashed', err: payload.error, restart: payload.restart }, 'consumer crashed');
      if (!payload.restart && !stopping) scheduleRestart();
    });
    member.on(member.events.STOP, () => (state = { joined: false, problem: 'stopped' }));
    await member.connect();
    await member.subscribe({ topics: options.topics.map((t) => messaging.topicName(t)), fromBeginning: options.fromBeginning });
    await options.run(member);
    if (options.onlyPartitions) {
      // Paused per topic, whatever the assignment, so it holds through rebalances and restarts of the member.
      const topics = options.topics.map((t) => messaging.topicName(t));
      member.pause(topics.map((topic) => ({ topic })));
      member.resume(topics.map((topic) => ({ topic, partitions: options.onlyPartitions! })));
    }
  };

  // Joining can fail transiently right after a topic was created (metadata not yet everywhere) or while
  // the broker starts: try again for a while before giving up on the service's start.
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (err) {
      await consumer?.disconnect().catch(() => undefined);
      if (attempt >= 8) throw err;
      logger[attempt < QUIET_RETRIES ? 'debug' : 'warn'](
        { event: 'kafka.consumer.start_retry', attempt, err: { message: (err as Error).message } },
        'consumer could not start yet; retrying',
      );
      await sleep(exponentialBackoff(attempt, { initialMs: 250, maxMs: 4_000, jitter: 'equal' }));
    }
  }

  return {
    ready,
    async checkHealth() {
      if (!state.joined) throw new Error(`consumer ${options.groupId} is ${state.problem ?? 'not joined'}`);
    },
    async stop() {
      options.onStop();
      stopping = true;
      await consumer?.disconnect();
    },
  };
}
