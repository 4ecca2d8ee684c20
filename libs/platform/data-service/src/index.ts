export {
  openDataService,
  type DataService,
  type DataServiceConfig,
  type DataServiceWorker,
  type OpenDataServiceOptions,
  type ServeOptions,
} from './data-service.runner';
