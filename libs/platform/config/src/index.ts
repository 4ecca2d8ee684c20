export { ConfigError, loadConfig } from './config.loader';
export { field } from './config.fields';
export { serviceConfigShape } from './service.config';
