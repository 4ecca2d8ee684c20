export { AppError, isAppError, type AppErrorShape } from './app-error';
export { CatalogueError } from './catalogue.error';
export {
  appError,
  appErrorOf,
  appErrorWithText,
  ErrorCatalogue,
  ErrorCodes,
  errors,
  renderMessage,
  type AppErrorOptions,
  type CatalogueEntry,
  type CataloguedError,
  type ErrorCode,
  type ErrorName,
  type MessageParams,
  type SoapFaultClass,
} from './error.catalogue';
