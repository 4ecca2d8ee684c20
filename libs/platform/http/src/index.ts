export { createMetricsRegistry, type Registry } from './metrics.registry';
export { createOpsRouter, type CheckResult, type OpsRouterOptions, type ReadinessCheck } from './ops.router';
export { startHttpServer, type StartedServer } from './http.server';
