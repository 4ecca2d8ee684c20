export { runService, type RunningService, type RunServiceOptions, type ServiceState } from './service.runner';
export { createServiceBase, startServiceHttp, type BaseServiceConfig, type ServiceBase } from './service.base';
export { findAppFolder, runMain } from './process.entry';
export { startPollingWorker, type PollingRound, type PollingRoundResult, type PollingWorker, type PollingWorkerOptions } from './polling.worker';
export { startQuarantineReplayer } from './quarantine.replayer';
