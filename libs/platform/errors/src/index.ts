export { AppError, isAppError, type AppErrorShape } from './app-error';
export { ErrorCodes, errors, type ErrorCode } from './error.catalogue';
