import { AppError } from './app-error';

/**
 * The catalogue of platform error codes. Campaign-facing codes (XSV-…, XTK-…, SOP-…) are added by the
 * Campaign libraries; the codes here describe platform conditions (transport, dependencies, input).
 * Each factory returns an AppError with its transport mapping and retry verdict fixed in one place.
 */
export const ErrorCodes = {
  RPC_TIMEOUT: 'CAP-RPC-001',
  RPC_NO_HANDLER: 'CAP-RPC-002',
  RPC_HANDLER_FAILED: 'CAP-RPC-003',
  SERVICE_UNAVAILABLE: 'CAP-SVC-001',
  SHUTTING_DOWN: 'CAP-SVC-002',
  INVALID_MESSAGE: 'CAP-MSG-001',
  INVALID_REQUEST: 'CAP-REQ-001',
  CONFIG_INVALID: 'CAP-CFG-001',
  MIGRATION_FAILED: 'CAP-DB-001',
  INTERNAL: 'CAP-INT-001',
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
