export { runService, type RunningService, type RunServiceOptions, type ServiceState } from './service.runner';
export { createServiceBase, startServiceHttp, type BaseServiceConfig, type ServiceBase } from './service.base';
export { findAppFolder, runMain } from './process.entry';
