import CircuitBreaker from 'opossum';
import { Counter, Gauge, type Registry } from 'prom-client';
import { errors, isAppError } from '@cap/platform-errors';
import type { Logger } from '@cap/platform-logger';

export interface BreakerOptions {
  name: string;
  logger: Logger;
  registry?: Registry;
  /** Calls slower than this fail (and count as failures). */
  timeoutMs: number;
  /** Failure percentage over the rolling window that opens the breaker. */
  errorThresholdPercentage?: number;
  /** Minimum calls in the window before the breaker may open (opossum's default of 0 opens on one failure). */
  volumeThreshold?: number;
  /** Time the breaker stays open before letting a probe through. */
  resetTimeoutMs?: number;
  rollingCountTimeoutMs?: number;
  /**
   * Errors for which this returns true are the caller's fault (bad input, business rule) and do not count
   * towards opening the breaker. Default: non-retriable AppErrors.
   */
  isBusinessError?: (err: unknown) => boolean;
}

export interface Breaker<A extends unknown[], R> {
  fire(...args: A): Promise<R>;
  readonly state: 'closed' | 'open' | 'half-open';
  shutdown(): void;
}

const STATE_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;
const metricsByRegistry = new WeakMap<Registry, { changes: Counter<'breaker' | 'state'>; state: Gauge<'breaker'> }>();

function metricsFor(registry: Registry) {
  let m = metricsByRegistry.get(registry);
  if (!m) {
    m = {
      changes: new Counter({
        name: 'cap_breaker_state_changes_total',
        help: 'Circuit breaker state changes',
        labelNames: ['breaker', 'state'],
        registers: [registry],
      }),
      state: new Gauge({
        name: 'cap_breaker_state',
        help: 'Circuit breaker state (0 closed, 1 half-open, 2 open)',
        labelNames: ['breaker'],
        registers: [registry],
      }),
    };
    metricsByRegistry.set(registry, m);
  }
  return m;
}

/**
 * Wraps a call that can hang or fail in an opossum breaker with safer defaults: a non-zero volume
 * threshold, business errors ignored, every state change logged and counted. An open breaker fails fast
 * with a retriable SERVICE_UNAVAILABLE AppError naming the breaker.
 */
export function createBreaker<A extends unknown[], R>(action: (...args: A) => Promise<R>, options: BreakerOptions): Breaker<A, R> {
  const isBusinessError = options.isBusinessError ?? ((err: unknown) => isAppError(err) && !err.retriable);
  const breaker = new CircuitBreaker(action, {
    name: options.name,
    timeout: options.timeoutMs,
    errorThresholdPercentage: options.errorThresholdPercentage ?? 50,
    volumeThreshold: options.volumeThreshold ?? 5,
    resetTimeout: options.resetTimeoutMs ?? 5_000,
    rollingCountTimeout: options.rollingCountTimeoutMs ?? 10_000,
    errorFilter: (err: unknown) => isBusinessError(err),
  });
  const logger = options.logger.child({ module: 'breaker', breaker: options.name });
  const metrics = options.registry ? metricsFor(options.registry) : undefined;
  metrics?.state.set({ breaker: options.name }, 0);
  const onState = (state: keyof typeof STATE_VALUE) => () => {
    logger.warn({ event: `breaker.${state.replace('-', '_')}` }, `breaker ${options.name} is ${state}`);
    metrics?.changes.inc({ breaker: options.name, state });
    metrics?.state.set({ breaker: options.name }, STATE_VALUE[state]);
  };
  breaker.on('open', onState('open'));
  breaker.on('halfOpen', onState('half-open'));
  breaker.on('close', onState('closed'));

  return {
    async fire(...args: A): Promise<R> {
      try {
        return (await breaker.fire(...args)) as R;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'EOPENBREAKER') throw errors.serviceUnavailable(options.name, 'circuit breaker is open');
        if (code === 'ETIMEDOUT' && !isAppError(err)) throw errors.serviceUnavailable(options.name, `no answer within ${options.timeoutMs} ms`);
        throw err;
      }
    },
    get state() {
      return breaker.opened ? 'open' : breaker.halfOpen ? 'half-open' : 'closed';
    },
    shutdown: () => breaker.shutdown(),
  };
}
