import { field } from './config.fields';

/**
 * Keys every service process has (each app's config.ts adds its own). `eventLoopResolutionMs`: how often the
 * event-loop delay metrics sample (default 100 ms; the gateway, whose stalls are bounded by S9 and read from these
 * metrics by its tests, keeps 10 ms).
 */
export function serviceConfigShape(defaults: { httpPort: number; eventLoopResolutionMs?: number }) {
  return {
    SERVICE_INSTANCE_ID: field.identifier(''),
    LOG_LEVEL: field.logLevel(),
    HTTP_HOST: field.string('0.0.0.0'),
    HTTP_PORT: field.port(defaults.httpPort),
    KAFKA_BROKERS: field.hostPortList('127.0.0.1:9092'),
    KAFKA_TOPIC_PREFIX: field.identifier(''),
    KAFKA_RETRY_PROFILE: field.enumOf(['default', 'fast'], 'default'),
    SHUTDOWN_TIMEOUT_MS: field.durationMs(15_000),
    EVENT_LOOP_RESOLUTION_MS: field.durationMs(defaults.eventLoopResolutionMs ?? 100),
  };
}
