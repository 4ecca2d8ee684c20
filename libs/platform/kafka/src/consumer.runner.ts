import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, EachMessageHandler, IHeaders } from 'kafkajs';
import { isAppError } from '@cap/platform-errors';
import { newCorrelationId, withCorrelationId } from '@cap/platform-logger';
import { decodeEnvelope, HEADER, type Envelope } from './envelope.codec';
import { headerValue, type Messaging } from './messaging';
import { backoffDelay } from './retry.profile';
import type { TopicDefinition } from './topic.definition';

export interface IncomingMessage<T> {
  envelope: Envelope<T>;
  key: string | undefined;
  headers: IHeaders;
  correlationId: string;
  topic: string;
  partition: number;
  offset: string;
}

export interface ConsumerRunnerOptions<T> {
  groupId: string;
  topic: TopicDefinition<T>;
  handle: (message: IncomingMessage<T>) => Promise<void>;
  /** Partitions processed in parallel (order is kept within a partition). */
  concurrency?: number;
  /** Read a topic from its start when the group has no committed offset. */
  fromBeginning?: boolean;
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
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  let state: { joined: boolean; problem?: string } = { joined: false, problem: 'joining its group' };
  let consumer: Consumer;
  let restarts = 0;

  /**
   * kafkajs restarts a crashed consumer by itself only for some errors; for the others (for example no
   * group coordinator yet on a broker that is still starting) the runner builds a new consumer after a
   * backoff, so a service never stays silently deaf.
   */
  const scheduleRestart = () => {
    const delay = backoffDelay(Math.min(++restarts, 6), { attempts: 0, initialDelayMs: 500, maxDelayMs: 10_000 });
    logger.warn({ event: 'kafka.consumer.restarting', delayMs: delay, restarts }, 'restarting crashed consumer');
    setTimeout(() => {
      if (stopping) return;
      consumer
        .disconnect()
        .catch(() => undefined)
        .then(() => (stopping ? undefined : start()))
        .catch((err: unknown) => {
          logger.error({ event: 'kafka.consumer.restart_failed', err }, 'consumer restart failed');
          if (!stopping) scheduleRestart();
        });
    }, delay).unref();
  };

  const start = async () => {
    consumer = messaging.kafka.consumer({
      groupId: messaging.groupName(options.groupId),
      allowAutoTopicCreation: false,
      retry: messaging.retry.client,
      maxWaitTimeInMs: 250,
      // A member that died without leaving is replaced after 10 s (kafkajs' default is 30 s).
      sessionTimeout: 10_000,
      heartbeatInterval: 3_000,
    });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      state = { joined: true };
      restarts = 0;
      markReady();
    });
    consumer.on(consumer.events.REBALANCING, () => (state = { joined: false, problem: 'rebalancing' }));
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      state = { joined: false, problem: `crashed: ${payload.error.message}${payload.restart ? ' (restarting)' : ''}` };
      logger.error({ event: 'kafka.consumer.crashed', err: payload.error, restart: payload.restart }, 'consumer crashed');
      if (!payload.restart && !stopping) scheduleRestart();
    });
    consumer.on(consumer.events.STOP, () => (state = { joined: false, problem: 'stopped' }));
    await consumer.connect();
    await consumer.subscribe({ topic: messaging.topicName(options.topic), fromBeginning: options.fromBeginning ?? false });
    await consumer.run({ autoCommit: true, autoCommitInterval: 1_000, partitionsConsumedConcurrently: options.concurrency ?? 1, eachMessage });
  };

  const eachMessage: EachMessageHandler = async ({ topic, partition, message }) => {
      const correlationId = headerValue(message.headers, HEADER.correlationId) ?? newCorrelationId();
      await withCorrelationId(correlationId, async () => {
        const original = {
          key: message.key,
          value: message.value,
          headers: message.headers ?? {},
          partition,
          offset: message.offset,
        };
        let envelope: Envelope<T>;
        try {
          envelope = decodeEnvelope(options.topic, message.value);
        } catch (err) {
          await deadLetter(err);
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
        };
        for (let attempt = 1; ; attempt++) {
          try {
            await options.handle(incoming);
            return;
          } catch (err) {
            const retriable = isAppError(err) && err.retriable;
            if (!retriable) {
              await deadLetter(err);
              return;
            }
            if (attempt >= messaging.retry.handler.attempts || stopping) {
              logger.warn({ event: 'kafka.message.redeliver', partition, offset: message.offset, err }, 'retries exhausted; leaving uncommitted for redelivery');
              throw err;
            }
            await sleep(backoffDelay(attempt, messaging.retry.handler));
          }
        }

        async function deadLetter(err: unknown): Promise<void> {
          const reason = {
            code: isAppError(err) ? err.code : 'UNHANDLED',
            message: err instanceof Error ? err.message : String(err),
          };
          if (!options.topic.deadLetter) {
            logger.error({ event: 'kafka.message.dropped', partition, offset: message.offset, reason }, 'message failed and topic has no dead-letter twin');
            return;
          }
          await messaging.publishDeadLetter(options.topic, original, reason);
          logger.warn({ event: 'kafka.message.dead_lettered', partition, offset: message.offset, reason }, 'message sent to dead-letter topic');
        }
      });
  };

  // Joining can fail transiently right after a topic was created (metadata not yet everywhere) or while
  // the broker starts: try again for a while before giving up on the service's start.
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (err) {
      await consumer!.disconnect().catch(() => undefined);
      if (attempt >= 8) throw err;
      logger.warn({ event: 'kafka.consumer.start_retry', attempt, err: { message: (err as Error).message } }, 'consumer could not start yet; retrying');
      await sleep(backoffDelay(attempt, { attempts: 0, initialDelayMs: 250, maxDelayMs: 4_000 }));
    }
  }

  return {
    ready,
    async checkHealth() {
      if (!state.joined) throw new Error(`consumer ${options.groupId} on ${options.topic.name} is ${state.problem ?? 'not joined'}`);
    },
    async stop() {
      stopping = true;
      await consumer.disconnect();
    },
  };
}
