import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type CallerClass = 'operator' | 'anonymous' | 'internal';
export type LimiterMode = 'shared' | 'local';

export interface RateLimitMetrics {
  decisions: Counter<'api' | 'caller_class' | 'result'>;
  /** 1 for the current mode, 0 for the other (`mode` = shared | local). */
  mode: Gauge<'mode'>;
  modeChanges: Counter<'mode'>;
  decisionSeconds: Histogram<'source'>;
}

const byRegistry = new WeakMap<Registry, RateLimitMetrics>();

/** The limiter's metrics, registered once per registry (several limiters may share one, e.g. in tests). */
export function getRateLimitMetrics(registry: Registry): RateLimitMetrics {
  let metrics = byRegistry.get(registry);
  if (!metrics) {
    metrics = {
      decisions: new Counter({
        name: 'cap_ratelimit_decisions_total',
        help: 'Rate-limit decisions by API, caller class (operator | anonymous | internal) and result (allowed | limited)',
        labelNames: ['api', 'caller_class', 'result'],
        registers: [registry],
      }),
      mode: new Gauge({
        name: 'cap_ratelimit_mode',
        help: 'Rate limiter mode: 1 on the current one; shared = Redis window, local = per-process fallback',
        labelNames: ['mode'],
        registers: [registry],
      }),
      modeChanges: new Counter({
        name: 'cap_ratelimit_mode_changes_total',
        help: 'Rate limiter switches between the shared (Redis) window and the local fallback',
        labelNames: ['mode'],
        registers: [registry],
      }),
      decisionSeconds: new Histogram({
        name: 'cap_ratelimit_decision_seconds',
        help: 'Time to take one rate-limit decision, by source (redis | local)',
        labelNames: ['source'],
        buckets: [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
        registers: [registry],
      }),
    };
    byRegistry.set(registry, metrics);
  }
  return metrics;
}
