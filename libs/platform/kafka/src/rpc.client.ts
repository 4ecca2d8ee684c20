import { AppError, ErrorCodes, errors, isAppError } from '@cap/platform-errors';
import { findCorrelationId, newCorrelationId } from '@cap/platform-logger';
import { Counter, Histogram, type Registry } from 'prom-client';
import { runConsumer, type ConsumerRunner } from './consumer.runner';
import type { Messaging } from './messaging';
import { replyPartitionOf, RPC_REPLY_TOPIC, type RpcReply, type RpcRequest } from './rpc.protocol';
import type { TopicDefinition } from './topic.definition';

export interface RpcClientOptions {
  instanceId: string;
  defaultTimeoutMs: number;
  /** Where `cap_rpc_client_seconds` and `cap_rpc_client_resent_total` are registered (none: not measured). */
  registry?: Registry;
  /**
   * A request partition that has left a request unanswered this long, without answering anything sent since,
   * is suspected of having lost its server replica (killed, not yet replaced by a rebalance): new requests avoid
   * it, and its idempotent requests in flight are sent again to another partition. Default 1 s.
   */
  suspectAfterMs?: number;
  /** How long a suspected partition is avoided before it gets requests again. Default 5 s. */
  suspectCooldownMs?: number;
}

/** Latency buckets shared by the RPC client and server histograms (seconds). */
export const RPC_SECONDS_BUCKETS = [0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5, 10, 30];

export interface RpcCallOptions {
  timeoutMs?: number;
  /** Partition key: requests with the same key are handled in order. Default: the client spreads requests over healthy partitions. */
  key?: string;
  /**
   * The call may run twice without harm (a read, or a write the server makes idempotent): when the partition it
   * went to stops answering, it is sent again to another one within its deadline.
   */
  idempotent?: boolean;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
  topic: TopicDefinition<RpcRequest>;
  /** The request partition it was (last) sent to; undefined when a key chose it. */
  partition: number | undefined;
  sentAt: number;
  message: { payload: RpcRequest; correlationId: string; headers: Record<string, string> };
  target: string;
  idempotent: boolean;
  resent: boolean;
}

/** What the client knows of one request partition. */
interface PartitionState {
  lastReplyAt: number;
  suspectUntil: number;
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
 * Request/reply over Kafka. Replies come back on the shared reply topic (rpc.protocol.ts), on the partition this
 * instance reads; nothing is created or deleted per instance, so callers come and go without touching the
 * servers. A request with no reply by its deadline rejects with RPC_TIMEOUT; the deadline travels with the
 * request, so the server skips work nobody waits for any more.
 *
 * Requests are spread over the request topic's partitions by the client itself, which watches them: a partition
 * whose server replica died (SIGKILL: its partitions stay unowned until the group notices) stops answering, is
 * avoided after `suspectAfterMs`, and the idempotent calls waiting on it are sent again elsewhere. The others
 * fail at their deadline with a fault saying the call may or may not have been applied.
 */
export async function startRpcClient(messaging: Messaging, options: RpcClientOptions): Promise<RpcClient> {
  const logger = messaging.logger.child({ module: 'rpc-client' });
  const replyTopic = messaging.topicName(RPC_REPLY_TOPIC);
  const replyPartition = replyPartitionOf(options.instanceId);
  const suspectAfterMs = options.suspectAfterMs ?? 1_000;
  const suspectCooldownMs = options.suspectCooldownMs ?? 5_000;
  const pending = new Map<string, Pending>();
  const partitions = new Map<string, PartitionState[]>();
  const roundRobin = new Map<string, number>();
  const duration = options.registry
    ? new Histogram({
        name: 'cap_rpc_client_seconds',
        help: 'RPC calls from the request published to the reply received, by target service, method and outcome (ok, error, timeout)',
        labelNames: ['target', 'method', 'outcome'],
        buckets: RPC_SECONDS_BUCKETS,
        registers: [options.registry],
      })
    : undefined;
  const resentCounter = options.registry
    ? new Counter({
        name: 'cap_rpc_client_resent_total',
        help: 'Idempotent RPC calls sent again because their partition stopped answering',
        labelNames: ['target', 'method'],
        registers: [options.registry],
      })
    : undefined;

  const statesOf = (topic: TopicDefinition<RpcRequest>): PartitionState[] => {
    const name = topic.name;
    let states = partitions.get(name);
    if (!states) {
      states = Array.from({ length: topic.partitions }, () => ({ lastReplyAt: 0, suspectUntil: 0 }));
      partitions.set(name, states);
    }
    return states;
  };

  /**
   * The next partition in turn: first among those that answered lately (a call sent again must not land on another
   * partition of the same dead replica), then among those not suspected, then any.
   */
  const choosePartition = (topic: TopicDefinition<RpcRequest>, avoid?: number, answeredLately = false): number => {
    const states = statesOf(topic);
    const now = Date.now();
    const start = roundRobin.get(topic.name) ?? 0;
    const passes: ((s: PartitionState) => boolean)[] = [(s) => s.suspectUntil <= now, () => true];
    if (answeredLately) passes.unshift((s) => s.suspectUntil <= now && now - s.lastReplyAt < suspectAfterMs);
    for (const accept of passes) {
      for (let i = 0; i < states.length; i++) {
        const p = (start + i) % states.length;
        if (p !== avoid && accept(states[p]!)) {
          roundRobin.set(topic.name, p + 1);
          return p;
        }
      }
    }
    return avoid === undefined || states.length === 1 ? start % states.length : (avoid + 1) % states.length;
  };

  const send = (waiter: Pending) =>
    messaging.publish(waiter.topic, [
      {
        key: waiter.message.correlationId,
        ...(waiter.partition === undefined ? {} : { partition: waiter.partition }),
        payload: waiter.message.payload,
        correlationId: waiter.message.correlationId,
        headers: waiter.message.headers,
      },
    ]);

  /** Runs while calls are waiting: finds partitions that stopped answering. */
  let watch: NodeJS.Timeout | undefined;
  const watchPartitions = () => {
    const now = Date.now();
    const oldest = new Map<string, number>();
    for (const waiter of pending.values()) {
      if (waiter.partition === undefined) continue;
      const key = `${waiter.topic.name}#${waiter.partition}`;
      oldest.set(key, Math.min(oldest.get(key) ?? Infinity, waiter.sentAt));
    }
    for (const [key, sentAt] of oldest) {
      const [topicName, p] = key.split('#') as [string, string];
      const state = partitions.get(topicName)?.[Number(p)];
      if (!state || now - sentAt < suspectAfterMs || state.lastReplyAt >= sentAt || state.suspectUntil > now) continue;
      state.suspectUntil = now + suspectCooldownMs;
      logger.warn(
        { event: 'rpc.partition.suspect', topic: topicName, partition: Number(p), waitedMs: now - sentAt },
        'a request partition stopped answering; avoiding it',
      );
      for (const waiter of pending.values()) {
        if (waiter.topic.name !== topicName || waiter.partition !== Number(p) || !waiter.idempotent || waiter.resent) continue;
        waiter.resent = true;
        waiter.partition = choosePartition(waiter.topic, Number(p), true);
        waiter.sentAt = now;
        resentCounter?.inc({ target: waiter.target, method: waiter.message.payload.method });
        send(waiter).catch((err: unknown) =>
          logger.warn({ event: 'rpc.resend.failed', err: { message: (err as Error).message } }, 'could not send a call again'),
        );
      }
    }
    if (pending.size === 0 && watch) {
      clearInterval(watch);
      watch = undefined;
    }
  };
  const startWatching = () => {
    if (watch) return;
    watch = setInterval(watchPartitions, Math.max(50, Math.min(250, suspectAfterMs / 4)));
    watch.unref();
  };

  await messaging.ensureTopics([RPC_REPLY_TOPIC]);
  const runner: ConsumerRunner = await runConsumer(messaging, {
    groupId: `rpc-reply-${options.instanceId}`,
    topic: RPC_REPLY_TOPIC,
    onlyPartitions: [replyPartition],
    commitOffsets: false,
    fromBeginning: false,
    fromReady: true,
    correlationContext: false,
    handle: async ({ envelope, correlationId }) => {
      const waiter = pending.get(correlationId);
      if (!waiter) {
        // Another instance's reply on a shared partition, a duplicate of a call sent twice, or one that timed out.
        return;
      }
      pending.delete(correlationId);
      clearTimeout(waiter.timer);
      if (waiter.partition !== undefined) statesOf(waiter.topic)[waiter.partition]!.lastReplyAt = Date.now();
      const reply: RpcReply = envelope.payload;
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(AppError.fromJSON(reply.error));
    },
  });
  await runner.ready;

  return {
    replyTopic,
    pendingCount: () => pending.size,
    checkHealth: () => runner.checkHealth(),
    async request<R>(
      target: { service: string; topic: TopicDefinition<RpcRequest> },
      method: string,
      params: unknown,
      callOptions: RpcCallOptions = {},
    ): Promise<R> {
      const started = process.hrtime.bigint();
      const timeoutMs = callOptions.timeoutMs ?? options.defaultTimeoutMs;
      // Each request needs its own id for reply matching; the caller's id (if any) is logged with it.
      const correlationId = newCorrelationId();
      const parentId = findCorrelationId();
      const deadline = Date.now() + timeoutMs;
      const partition = callOptions.key === undefined ? choosePartition(target.topic) : undefined;
      let waiter!: Pending;
      const result = new Promise<R>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(correlationId);
          reject(errors.rpcTimeout(target.service, method, timeoutMs));
        }, timeoutMs);
        waiter = {
          resolve: resolve as (v: unknown) => void,
          reject,
          timer,
          topic: target.topic,
          partition,
          sentAt: Date.now(),
          message: {
            payload: { method, params: params ?? null, replyTo: replyTopic, replyPartition, deadline },
            correlationId,
            headers: parentId ? { 'x-parent-correlation-id': parentId } : {},
          },
          target: target.service,
          idempotent: callOptions.idempotent === true,
          resent: false,
        };
        pending.set(correlationId, waiter);
      });
      // The reply (or the deadline) can settle the call before the broker acknowledges the publish below, while
      // nothing listens on `result` yet: marked handled here, so that rejection reaches the caller when it awaits
      // instead of crashing the process as an unhandled rejection. The caller still sees every failure.
      result.catch(() => undefined);
      startWatching();
      try {
        if (callOptions.key === undefined) await send(waiter);
        else await messaging.publish(target.topic, [{ key: callOptions.key, payload: waiter.message.payload, correlationId, headers: waiter.message.headers }]);
      } catch (err) {
        const still = pending.get(correlationId);
        if (still) {
          clearTimeout(still.timer);
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
          (err: unknown) =>
            duration.observe(
              { target: target.service, method, outcome: isAppError(err) && err.code === ErrorCodes.RPC_TIMEOUT ? 'timeout' : 'error' },
              seconds(),
            ),
        );
      }
      return result;
    },
    async stop() {
      if (watch) clearInterval(watch);
      watch = undefined;
      for (const [id, waiter] of pending) {
        clearTimeout(waiter.timer);
        waiter.reject(errors.shuttingDown('rpc-client'));
        pending.delete(id);
      }
      // Nothing to delete: the reply topic is shared, and this instance's group (which never commits) goes
      // away with its member.
      await runner.stop();
    },
  };
}
