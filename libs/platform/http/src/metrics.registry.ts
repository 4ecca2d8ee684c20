import { collectDefaultMetrics, Registry } from 'prom-client';

export type { Registry } from 'prom-client';

/**
 * One registry per process, labelled with the service; includes Node.js process metrics. The event-loop delay
 * gauges (`nodejs_eventloop_lag_*`) come from a histogram sampled by a timer every `eventLoopResolutionMs`
 * (default 10 ms): each value is the time between two samples, so none is below the resolution, and a stall of
 * L ms reads as at most L + resolution. The timer wakes the process that often even when it has nothing to do
 * (100 wake-ups a second at 10 ms, about 0.2 % of a core on the project's machines: docs/benchmarks.md, "Idle cost").
 */
export function createMetricsRegistry(service: string, options: { eventLoopResolutionMs?: number } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: options.eventLoopResolutionMs ?? 10 });
  return registry;
}
