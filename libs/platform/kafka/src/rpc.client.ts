import { AppError, ErrorCodes, errors, isAppError } from '@cap/platform-errors';
import { findCorrelationId, newCorrelationId } from '@cap/platform-logger';
import { Histogram, type Registry } from 'prom-client';
import { runConsumer, type ConsumerRunner } from './consumer.runner';
import type { Messaging } from './messaging';
import { rpcReplyTopic, type RpcRequest } from './rpc.protocol';
import type { TopicDefinition } from './topic.definition';

export interface RpcClientOptions {
  instanceId: string;
  defaultTimeoutMs: number;
  /** Where `cap_rpc_client_seconds` is registered (none: not measured). */
  registry?: Registry;
}

/** Latency buckets shared by the RPC client and server histograms (seconds). */
export const RPC_SECONDS_BUCKETS = [0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5, 10, 30];

export interface RpcCallOptions {
  timeoutMs?: number;
  /** Partition key: requests with the same key are handled in order. Defaults to the correlation id. */
  key?: string;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
}

export interface RpcClient {
  readonly replyTopic: string;
  request<R = unknown>(target: { service: string; topic: TopicDefinition<RpcRequest> }, method: string, params: unknown, options?: RpcCallOptions): Promise<R>;
  pendingCount(): number;
  /** Readiness probe: the reply consumer is a settled member of its group. */
  checkHealth(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Request/reply over Kafka. The instance owns one reply topic (created here, deleted at stop) and matches
 * replies to requests by correlation id. A request with no reply by its deadline rejects with RPC_TIMEOUT;
 * the deadline travels with the request, so the server skips work nobody waits for any more.
 */
export async function startRpcClient(messaging: Messaging, options: RpcClientOptions): Promise<RpcClient> {
  const logger = messaging.logger.child({ module: 'rpc-client' });
  const replyDef = rpcReplyTopic(options.instanceId);
  const replyTopic = messaging.topicName(replyDef);
  const pending = new Map<string, Pending>();
  const duration = options.registry
    ? new Histogram({
        name: 'cap_rpc_client_seconds',
        help: 'RPC calls from the request published to the reply received, by target service, method and outcome (ok, error, timeout)',
        labelNames: ['target', 'method', 'outcome'],
        buckets: RPC_SECONDS_BUCKETS,
        registers: [options.registry],
      })
    : undefined;

  await messaging.ensureTopics([replyDef]);
  const runner: ConsumerRunner = await runConsumer(messaging, {
    groupId: `rpc-reply-${options.instanceId}`,
    topic: replyDef,
    fromBeginning: true,
    correlationContext: false,
    handle: async ({ envelope, correlationId }) => {
      const waiter = pending.get(correlationId);
      if (!waiter) {
        logger.debug({ event: 'rpc.reply.orphan' }, 'reply for a request nobody waits for (timed out?)');
        return;
      }
      pending.delete(correlationId);
      clearTimeout(waiter.timer);
      const reply = envelope.payload;
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(AppError.fromJSON(reply.error));
    },
  });
  await runner.ready;

  return {
    replyTopic,
    pendingCount: () => pending.size,
    checkHealth: () => runner.checkHealth(),
    async request<R>(target: { service: string; topic: TopicDefinition<RpcRequest> }, method: string, params: unknown, callOptions: RpcCallOptions = {}): Promise<R> {
      const started = process.hrtime.bigint();
      const timeoutMs = callOptions.timeoutMs ?? options.defaultTimeoutMs;
      // Each request needs its own id for reply matching; the caller's id (if any) is logged with it.
      const correlationId = newCorrelationId();
      const parentId = findCorrelationId();
      const deadline = Date.now() + timeoutMs;
      const result = new Promise<R>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(correlationId);
          reject(errors.rpcTimeout(target.service, method, timeoutMs));
        }, timeoutMs);
        pending.set(correlationId, { resolve: resolve as (v: unknown) => void, reject, timer });
      });
      // The reply (or the deadline) can settle the call before the broker acknowledges the publish below, while
      // nothing listens on `result` yet: marked handled here, so that rejection reaches the caller when it awaits
      // instead of crashing the process as an unhandled rejection. The caller still sees every failure.
      result.catch(() => undefined);
      try {
        await messaging.publish(target.topic, [
          {
            key: callOptions.key ?? correlationId,
            payload: { method, params: params ?? null, replyTo: replyTopic, deadline },
            correlationId,
            headers: parentId ? { 'x-parent-correlation-id': parentId } : {},
          },
        ]);
      } catch (err) {
        const waiter = pending.get(correlationId);
        if (waiter) {
          clearTimeout(waiter.timer);
          pending.delete(correlationId);
        }
        // A request the broker refuses for its size is the caller's problem, not the service's: a Client
        // error that never counts against the service's circuit breaker.
        const kafkaType = (err as { type?: string; cause?: { type?: string } }).type ?? (err as { cause?: { type?: string } }).cause?.type;
        const text = err instanceof Error ? err.message : String(err);
        if (kafkaType === 'MESSAGE_TOO_LARGE' || /larger than the max message size|MESSAGE_TOO_LARGE/i.test(text)) {
          throw errors.requestTooLarge(target.service, method, 'the request exceeds the message size limit');
        }
        throw errors.serviceUnavailable(target.service, `request could not be published (${text})`);
      }
      if (duration) {
        const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
        result.then(
          () => duration.observe({ target: target.service, method, outcome: 'ok' }, seconds()),
          (err: unknown) => duration.observe({ target: target.service, method, outcome: isAppError(err) && err.code === ErrorCodes.RPC_TIMEOUT ? 'timeout' : 'error' }, seconds()),
        );
      }
      return result;
    },
    async stop() {
      for (const [id, waiter] of pending) {
        clearTimeout(waiter.timer);
        waiter.reject(errors.shuttingDown('rpc-client'));
        pending.delete(id);
      }
      await runner.stop();
      await messaging.deleteTopics([replyTopic]).catch((err: unknown) => {
        logger.warn({ event: 'rpc.reply_topic.delete_failed', err }, 'could not delete reply topic');
      });
    },
  };
}
