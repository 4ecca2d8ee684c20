import { hostname } from 'node:os';
import express, { type Express } from 'express';
import { createMetricsRegistry, createOpsRouter, startHttpServer, type ReadinessCheck, type Registry, type StartedServer } from '@cap/platform-http';
import { createMessaging, RETRY_PROFILES, type Messaging } from '@cap/platform-kafka';
import { createLogger, type Logger } from '@cap/platform-logger';
import type { ServiceState } from './service.runner';

/** The configuration keys every service has (see serviceConfigShape in @cap/platform-config). */
export interface BaseServiceConfig {
  SERVICE_INSTANCE_ID: string;
  LOG_LEVEL: string;
  HTTP_HOST: string;
  HTTP_PORT: number;
  KAFKA_BROKERS: string[];
  KAFKA_TOPIC_PREFIX: string;
  KAFKA_RETRY_PROFILE: 'default' | 'fast';
  SHUTDOWN_TIMEOUT_MS: number;
  /** How often the event-loop delay metrics sample; optional for callers that build a config by hand. */
  EVENT_LOOP_RESOLUTION_MS?: number;
}

export interface ServiceBase {
  service: string;
  instanceId: string;
  logger: Logger;
  registry: Registry;
  messaging: Messaging;
}

/** Creates what every service process has: identity, root logger, metrics registry, Kafka messaging. */
export function createServiceBase(service: string, config: BaseServiceConfig): ServiceBase {
  const instanceId = config.SERVICE_INSTANCE_ID || `${service}-${hostname()}-${process.pid}`;
  const logger = createLogger({ service, level: config.LOG_LEVEL, instanceId });
  const registry = createMetricsRegistry(service, config.EVENT_LOOP_RESOLUTION_MS ? { eventLoopResolutionMs: config.EVENT_LOOP_RESOLUTION_MS } : {});
  const messaging = createMessaging({
    brokers: config.KAFKA_BROKERS,
    clientId: instanceId,
    topicPrefix: config.KAFKA_TOPIC_PREFIX,
    logger,
    retry: RETRY_PROFILES[config.KAFKA_RETRY_PROFILE],
  });
  return { service, instanceId, logger, registry, messaging };
}

/**
 * Starts the service's HTTP server with the service's own routes (`mount`, e.g. the gateway's SOAP router;
 * other services have none), then /healthz, /readyz and /metrics. The service's routes come first because
 * Express tries layers in order: the gateway's SOAP calls, thousands a second, should not be matched
 * against the ops routes first. Service routes must not shadow the ops paths.
 */
export async function startServiceHttp(
  base: ServiceBase,
  config: BaseServiceConfig,
  options: { state: ServiceState; checks: ReadinessCheck[]; mount?: (app: Express) => void },
): Promise<StartedServer> {
  const app = express();
  app.disable('x-powered-by');
  options.mount?.(app);
  app.use(createOpsRouter({ service: base.service, checks: options.checks, registry: base.registry, isAccepting: options.state.isAccepting }));
  const started = await startHttpServer(app, { host: config.HTTP_HOST, port: config.HTTP_PORT });
  base.logger.info({ event: 'http.listening', url: started.url }, `${base.service} listening on ${started.url}`);
  return started;
}
