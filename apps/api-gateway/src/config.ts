import { field, loadConfig, serviceConfigShape } from '@cap/platform-config';

const shape = {
  ...serviceConfigShape({ httpPort: 8080 }),
  REDIS_URL: field.url(['redis', 'rediss'], 'redis://127.0.0.1:6379/0'),
  /** Deadline of a request/reply call to local-store or cloud-executor (the SDK itself gives up at 5 s). */
  RPC_TIMEOUT_MS: field.durationMs(3_000),
  /** Circuit breaker per downstream service: open after this share of failures … */
  BREAKER_ERROR_THRESHOLD_PERCENT: field.positiveInt(50),
  /** … once at least this many calls were made in the rolling window … */
  BREAKER_VOLUME_THRESHOLD: field.positiveInt(5),
  /** … and let a probe through after this long. */
  BREAKER_RESET_TIMEOUT_MS: field.durationMs(5_000),
};

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

export function loadGatewayConfig(env: Record<string, string | undefined>) {
  return loadConfig('api-gateway', shape, env);
}
