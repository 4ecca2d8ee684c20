import type { Registry } from 'prom-client';
import { SERVICES, TOPICS } from '@cap/contracts';
import type { RpcClient } from '@cap/platform-kafka';
import type { Logger } from '@cap/platform-logger';
import { createBreaker, type Breaker } from '@cap/platform-resilience';
import type { GatewayConfig } from './config';

export type DownstreamName = (typeof SERVICES)[keyof typeof SERVICES];

export interface Downstreams {
  call<R>(service: DownstreamName, method: string, params: unknown): Promise<R>;
  breakerState(service: DownstreamName): string;
}

/**
 * Calls that may run twice without harm: a server replica that dies while holding one has it sent again to
 * another (rpc.client.ts). Writes are not: they fail at their deadline, saying they may or may not have been applied.
 */
const IDEMPOTENT_METHODS = new Set([
  'data.query',
  'option.get',
  'operator.get',
  'operator.state',
  'operator.authenticate',
  'system.ping',
  'staging.status',
  'event.queueDepth',
  'reporting.summary',
  'delivery.messageTemplateLive',
  'delivery.filesToDownload',
  // A command applied twice leaves the delivery where the first one put it.
  'delivery.command',
  'quarantine.counts',
  'schema.sources',
  'schema.stamps',
  // Sent again, it takes other ids: the first ones are skipped, never handed out twice.
  'sequence.reserve',
  // The same content under the same md5, or the same record published again: no second effect.
  'file.putPart',
  'file.commit',
  'file.abort',
  'file.get',
  'file.read',
  'file.publish',
  'file.url',
]);

const TARGETS = {
  [SERVICES.localStore]: { service: SERVICES.localStore, topic: TOPICS.localStoreRequests },
  [SERVICES.cloudExecutor]: { service: SERVICES.cloudExecutor, topic: TOPICS.cloudExecutorRequests },
};

/** RPC to each downstream service behind its own circuit breaker: a dead service fails fast. */
export function createDownstreams(deps: { rpc: RpcClient; config: GatewayConfig; logger: Logger; registry: Registry }): Downstreams {
  const breakers = new Map<DownstreamName, Breaker<[string, unknown], unknown>>();
  for (const [name, target] of Object.entries(TARGETS) as [DownstreamName, (typeof TARGETS)[DownstreamName]][]) {
    breakers.set(
      name,
      createBreaker((method: string, params: unknown) => deps.rpc.request(target, method, params, { idempotent: IDEMPOTENT_METHODS.has(method) }), {
        name: `rpc:${name}`,
        logger: deps.logger,
        registry: deps.registry,
        // The RPC deadline fires first and yields a typed timeout; the breaker's own timeout is a backstop.
        timeoutMs: deps.config.RPC_TIMEOUT_MS + 500,
        errorThresholdPercentage: deps.config.BREAKER_ERROR_THRESHOLD_PERCENT,
        volumeThreshold: deps.config.BREAKER_VOLUME_THRESHOLD,
        resetTimeoutMs: deps.config.BREAKER_RESET_TIMEOUT_MS,
      }),
    );
  }
  return {
    async call<R>(service: DownstreamName, method: string, params: unknown): Promise<R> {
      return (await breakers.get(service)!.fire(method, params)) as R;
    },
    breakerState: (service) => breakers.get(service)!.state,
  };
}
