export { runDataService, type DataServiceConfig, type DataServiceContext, type DataServiceOptions } from './data-service.runner';
