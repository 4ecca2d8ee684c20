/**
 * The one application error type. Every error that crosses a module or process boundary is an AppError:
 * it carries a stable code from the catalogue, the transport mapping (HTTP status, SOAP fault code) and a
 * retry verdict, so callers decide what to do without parsing messages.
 */
export interface AppErrorShape {
  code: string;
  message: string;
  retriable: boolean;
  httpStatus: number;
  soapFaultCode: 'SOAP-ENV:Client' | 'SOAP-ENV:Server';
  details?: Record<string, unknown>;
}

export class AppError extends Error implements AppErrorShape {
  readonly code: string;
  readonly retriable: boolean;
  readonly httpStatus: number;
  readonly soapFaultCode: 'SOAP-ENV:Client' | 'SOAP-ENV:Server';
  readonly details?: Record<string, unknown>;
  /**
   * What only the operator may read (a database's own error text: constraint names, the failing row): logged by
   * the service that raised it, with the request's correlation id, and never serialised into a reply.
   */
  readonly privateDetail?: string;

  constructor(shape: AppErrorShape, options?: { cause?: unknown; privateDetail?: string }) {
    super(shape.message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.privateDetail !== undefined) this.privateDetail = options.privateDetail;
    this.name = 'AppError';
    this.code = shape.code;
    this.retriable = shape.retriable;
    this.httpStatus = shape.httpStatus;
    this.soapFaultCode = shape.soapFaultCode;
    if (shape.details !== undefined) this.details = shape.details;
  }

  /** Plain, JSON-safe form used to carry the error over Kafka RPC replies. */
  toJSON(): AppErrorShape {
    const out: AppErrorShape = {
      code: this.code,
      message: this.message,
      retriable: this.retriable,
      httpStatus: this.httpStatus,
      soapFaultCode: this.soapFaultCode,
    };
    if (this.details !== undefined) out.details = this.details;
    return out;
  }

  static fromJSON(shape: AppErrorShape): AppError {
    return new AppError(shape);
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
