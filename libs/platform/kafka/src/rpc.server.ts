import { AppError, errors, isAppError } from '@cap/platform-errors';
import { Histogram, type Registry } from 'prom-client';
import { runConsumer, type ConsumerRunner } from './consumer.runner';
import type { Messaging } from './messaging';
import { RPC_SECONDS_BUCKETS } from './rpc.client';
import { rpcReplySchema, type RpcReply, type RpcRequest } from './rpc.protocol';
import { defineTopic, type TopicDefinition } from './topic.definition';

export interface RpcContext {
  correlationId: string;
  deadline: number;
}

export type RpcHandler = (params: unknown, ctx: RpcContext) => Promise<unknown>;

export interface RpcServerOptions {
  service: string;
  requestTopic: TopicDefinition<RpcRequest>;
  /** Consumer group: all replicas of a service share it, so each request is handled once. */
  groupId: string;
  handlers: Record<string, RpcHandler>;
  concurrency?: number;
  /**
   * Requests handled at once by this replica (default 256); beyond it, fetching pauses until one finishes.
   * Many small requests in flight let handlers batch their work (local-store's group commit).
   */
  maxInFlight?: number;
  /**
   * Bytes of requests handled at once (default 64 MiB), so that many big documents cannot exhaust memory; a
   * request larger than this still runs when nothing else is in flight.
   */
  maxInFlightBytes?: number;
  /** Where `cap_rpc_server_seconds` and `cap_rpc_server_wait_seconds` are registered (none: not measured). */
  registry?: Registry;
}

export interface RpcServer {
  readonly ready: Promise<void>;
  /** Readiness probe: the request consumer is a settled member of its group. */
  checkHealth(): Promise<void>;
  /** In-flight requests being handled right now. */
  inFlight(): number;
  stop(): Promise<void>;
}

/**
 * Serves requests from `requestTopic`. Every request gets exactly one reply on its `replyTo` topic: the
 * handler's result, or its error as an AppError shape (unknown errors become RPC_HANDLER_FAILED so no
 * internals leak). Requests already past their deadline are dropped: nobody waits for them.
 */
export async function startRpcServer(messaging: Messaging, options: RpcServerOptions): Promise<RpcServer> {
  const logger = messaging.logger.child({ module: 'rpc-server', service: options.service });
  const maxInFlight = options.maxInFlight ?? 256;
  const maxInFlightBytes = options.maxInFlightBytes ?? 64 * 1024 * 1024;
  let active = 0;
  let activeBytes = 0;
  const waiting: (() => void)[] = [];
  let drained: (() => void) | undefined;
  const histogram = (name: string, help: string) =>
    options.registry
      ? new Histogram({ name, help, labelNames: ['method', 'outcome'], buckets: RPC_SECONDS_BUCKETS, registers: [options.registry] })
      : undefined;
  const handled = histogram('cap_rpc_server_seconds', 'RPC requests from the handler start to the reply published, by method and outcome (ok, error)');
  // From the caller's envelope time: Kafka transit plus the wait for a free in-flight slot (clocks of two hosts).
  const waited = histogram(
    'cap_rpc_server_wait_seconds',
    'RPC requests from the caller publishing them to their handler starting, by method (outcome: started, expired)',
  );

  /**
   * Handles one request and publishes its reply. Requests are independent (no order to keep), so the
   * consumer does not wait for the handler: it goes on fetching while up to `maxInFlight` requests run, and a
   * slow request (a big write) never holds up the quick ones queued behind it on its partition. A replica
   * that dies mid-request leaves its caller to time out with a typed fault; nothing is acknowledged to the
   * caller before the handler has finished.
   */
  const serve = async (request: RpcRequest, correlationId: string, method: string) => {
    const started = process.hrtime.bigint();
    let reply: RpcReply;
    try {
      const handler = method === request.method ? options.handlers[request.method] : undefined;
      if (!handler) throw errors.rpcNoHandler(options.service, request.method);
      const result = await handler(request.params, { correlationId, deadline: request.deadline });
      reply = { ok: true, result: result ?? null };
    } catch (err) {
      reply = { ok: false, error: toReplyError(err, options.service, request.method) };
      if (!isAppError(err)) logger.error({ event: 'rpc.handler.crashed', method: request.method, correlationId, err }, 'handler threw an unexpected error');
      else if (err.privateDetail !== undefined) {
        // The caller gets the public message and the correlation id; the detail stays in this service's log.
        logger.warn({ event: 'rpc.handler.refused', method: request.method, correlationId, code: err.code, detail: err.privateDetail }, err.message);
        reply.error.message = `${reply.error.message} (correlation id ${correlationId})`;
      }
    }
    try {
      const replyTopic = defineTopic({ ...replyTopicTemplate, name: stripPrefix(messaging, request.replyTo) });
      const partition = request.replyPartition;
      await messaging.publish(replyTopic, [{ key: correlationId, payload: reply, correlationId, ...(partition === undefined ? {} : { partition }) }], {
        bestEffort: true,
      });
    } catch (err) {
      // The broker refused, or a caller of an earlier version is gone with its own reply topic: the work is done
      // and cannot be undone, and redelivering the request would repeat it. Log and move on.
      logger.warn({ event: 'rpc.reply.undeliverable', method: request.method, replyTo: request.replyTo, err }, 'reply could not be delivered');
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    handled?.observe({ method, outcome: reply.ok ? 'ok' : 'error' }, seconds);
    logger.debug({ event: 'rpc.request.handled', method: request.method, ok: reply.ok, durationMs: seconds * 1000 }, 'request handled');
  };

  const runner: ConsumerRunner = await runConsumer(messaging, {
    groupId: options.groupId,
    topic: options.requestTopic,
    concurrency: options.concurrency ?? options.requestTopic.partitions,
    // A brand-new group must not skip requests sent while it joined; stale ones are dropped by deadline.
    fromBeginning: true,
    // A replica that leaves (rolling restart) hands its partitions over at the others' next heartbeat: a short
    // one keeps the requests queued on them waiting well under a deadline.
    heartbeatIntervalMs: 1_000,
    // A replica that died (SIGKILL) keeps its partitions until the group evicts it; a member joining or leaving
    // meanwhile makes the whole group wait for that eviction (kafkajs rebalances eagerly). 6 s, the smallest
    // session a broker allows by default (group.min.session.timeout.ms), keeps that wait short; it stays above
    // any RPC deadline, so a request the dead replica had taken is never run a second time by the next owner
    // (it is past its deadline by then and dropped).
    sessionTimeoutMs: 6_000,
    handle: async ({ envelope, correlationId, size }) => {
      const request = envelope.payload;
      // A method name no handler has is labelled 'unknown': callers cannot grow the label set.
      const method = Object.hasOwn(options.handlers, request.method) ? request.method : 'unknown';
      const sentAt = Date.parse(envelope.occurredAt);
      const observeWait = (outcome: 'started' | 'expired') => {
        if (waited && Number.isFinite(sentAt)) waited.observe({ method, outcome }, Math.max(0, Date.now() - sentAt) / 1000);
      };
      if (Date.now() > request.deadline) {
        observeWait('expired');
        logger.warn({ event: 'rpc.request.expired', method: request.method }, 'request past its deadline; dropped');
        return;
      }
      while (active >= maxInFlight || (active > 0 && activeBytes + size > maxInFlightBytes)) await new Promise<void>((resolve) => waiting.push(resolve));
      observeWait('started');
      active++;
      activeBytes += size;
      // serve() catches what it expects; anything else is logged here, never left to crash the service.
      void serve(request, correlationId, method)
        .catch((err: unknown) => logger.error({ event: 'rpc.serve.failed', method: request.method, err }, 'request could not be served'))
        .finally(() => {
          active--;
          activeBytes -= size;
          waiting.shift()?.();
          if (active === 0) drained?.();
        });
    },
  });
  return {
    ready: runner.ready,
    checkHealth: () => runner.checkHealth(),
    inFlight: () => active,
    async stop() {
      // Stop fetching first, then let the requests already taken finish and reply.
      const done = active === 0 ? Promise.resolve() : new Promise<void>((resolve) => (drained = resolve));
      await runner.stop();
      await done;
    },
  };
}

const replyTopicTemplate = {
  partitions: 1,
  retentionMs: 600_000,
  schemaVersion: 1,
  payload: rpcReplySchema,
  deadLetter: false,
  description: 'reply',
};

function stripPrefix(messaging: Messaging, physical: string): string {
  const prefix = messaging.topicName('');
  return prefix && physical.startsWith(prefix) ? physical.slice(prefix.length) : physical;
}

function toReplyError(err: unknown, service: string, method: string) {
  if (err instanceof AppError) return err.toJSON();
  return errors.rpcHandlerFailed(service, method).toJSON();
}
