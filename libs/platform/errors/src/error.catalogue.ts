import { AppError } from './app-error';

/**
 * The catalogue of platform error codes. Campaign-facing codes (XSV-…, XTK-…, SOP-…) are added by the
 * Campaign libraries; the codes here describe platform conditions (transport, dependencies, input).
 * Each factory returns an AppError with its transport mapping and retry verdict fixed in one place.
 * Codes have Campaign's shape (three letters, six digits) so the SDK reads them into `errorCode` too.
 */
export const ErrorCodes = {
  RPC_TIMEOUT: 'CAP-100001',
  RPC_NO_HANDLER: 'CAP-100002',
  RPC_HANDLER_FAILED: 'CAP-100003',
  SERVICE_UNAVAILABLE: 'CAP-100101',
  SHUTTING_DOWN: 'CAP-100102',
  INVALID_MESSAGE: 'CAP-100201',
  INVALID_REQUEST: 'CAP-100301',
  REQUEST_TOO_LARGE: 'CAP-100302',
  CONFIG_INVALID: 'CAP-100401',
  MIGRATION_FAILED: 'CAP-100501',
  INTERNAL: 'CAP-100901',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export const errors = {
  rpcTimeout(service: string, method: string, timeoutMs: number): AppError {
    return new AppError({
      code: ErrorCodes.RPC_TIMEOUT,
      message: `No reply from ${service} to '${method}' within ${timeoutMs} ms`,
      retriable: true,
      httpStatus: 504,
      soapFaultCode: 'SOAP-ENV:Server',
      details: { service, method, timeoutMs },
    });
  },
  rpcNoHandler(service: string, method: string): AppError {
    return new AppError({
      code: ErrorCodes.RPC_NO_HANDLER,
      message: `Service ${service} has no handler for '${method}'`,
      retriable: false,
      httpStatus: 501,
      soapFaultCode: 'SOAP-ENV:Server',
      details: { service, method },
    });
  },
  rpcHandlerFailed(service: string, method: string): AppError {
    return new AppError({
      code: ErrorCodes.RPC_HANDLER_FAILED,
      message: `Service ${service} failed while handling '${method}'`,
      retriable: true,
      httpStatus: 500,
      soapFaultCode: 'SOAP-ENV:Server',
      details: { service, method },
    });
  },
  serviceUnavailable(service: string, reason: string): AppError {
    return new AppError({
      code: ErrorCodes.SERVICE_UNAVAILABLE,
      message: `Service ${service} is unavailable: ${reason}`,
      retriable: true,
      httpStatus: 503,
      soapFaultCode: 'SOAP-ENV:Server',
      details: { service },
    });
  },
  shuttingDown(service: string): AppError {
    return new AppError({
      code: ErrorCodes.SHUTTING_DOWN,
      message: `Service ${service} is shutting down`,
      retriable: true,
      httpStatus: 503,
      soapFaultCode: 'SOAP-ENV:Server',
    });
  },
  invalidMessage(topic: string, reason: string): AppError {
    return new AppError({
      code: ErrorCodes.INVALID_MESSAGE,
      message: `Invalid message on ${topic}: ${reason}`,
      retriable: false,
      httpStatus: 400,
      soapFaultCode: 'SOAP-ENV:Client',
      details: { topic },
    });
  },
  invalidRequest(what: string, reason: string): AppError {
    return new AppError({
      code: ErrorCodes.INVALID_REQUEST,
      message: `Invalid ${what}: ${reason}`,
      retriable: false,
      httpStatus: 400,
      soapFaultCode: 'SOAP-ENV:Client',
    });
  },
  requestTooLarge(service: string, method: string, reason: string): AppError {
    return new AppError({
      code: ErrorCodes.REQUEST_TOO_LARGE,
      message: `Request '${method}' to ${service} is too large to forward: ${reason}`,
      retriable: false,
      httpStatus: 413,
      soapFaultCode: 'SOAP-ENV:Client',
      details: { service, method },
    });
  },
  migrationFailed(database: string, migration: string, reason: string): AppError {
    return new AppError({
      code: ErrorCodes.MIGRATION_FAILED,
      message: `Migration ${migration} on ${database} failed: ${reason}`,
      retriable: false,
      httpStatus: 500,
      soapFaultCode: 'SOAP-ENV:Server',
      details: { database, migration },
    });
  },
  internal(message: string): AppError {
    return new AppError({
      code: ErrorCodes.INTERNAL,
      message,
      retriable: false,
      httpStatus: 500,
      soapFaultCode: 'SOAP-ENV:Server',
    });
  },
};
