export { runDataService, type DataServiceConfig, type DataServiceContext, type DataServiceOptions, type DataServiceWorker } from './data-service.runner';
