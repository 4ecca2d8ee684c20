import { QueryErrorCodes, type QueryErrorCode, type QueryErrorKind } from './query-error.codes';

/**
 * The one error type of the query library. Its shape matches the platform's application errors (code,
 * retry verdict, transport mapping) so the gateway can render it as a SOAP fault without knowing this lib.
 * The message starts with the Campaign-style code (`XTK-170036 …`).
 */
export class QueryError extends Error {
  readonly code: QueryErrorCode;
  readonly kind: QueryErrorKind;
  /** Query errors are about the request itself: repeating it gives the same answer. */
  readonly retriable = false;
  readonly httpStatus: number;
  readonly soapFaultCode: 'SOAP-ENV:Client' | 'SOAP-ENV:Server';

  constructor(code: QueryErrorCode, kind: QueryErrorKind, text: string) {
    super(`${code} ${text}`);
    this.name = 'QueryError';
    this.code = code;
    this.kind = kind;
    const noRecord = code === QueryErrorCodes.NO_RECORD;
    this.httpStatus = noRecord ? 404 : 400;
    this.soapFaultCode = noRecord ? 'SOAP-ENV:Server' : 'SOAP-ENV:Client';
  }

  /** A queryDef that cannot be compiled (`XTK-170036 …`). */
  static invalid(text: string, kind: QueryErrorKind = 'invalid-query'): QueryError {
    return new QueryError(QueryErrorCodes.INVALID_QUERY, kind, text);
  }

  /** `operation="get"` found nothing (`XSV-350122 No record found for query on 'nms:recipient'`). */
  static noRecord(schemaId: string): QueryError {
    return new QueryError(QueryErrorCodes.NO_RECORD, 'no-record', `No record found for query on '${schemaId}'`);
  }
}

export function isQueryError(err: unknown): err is QueryError {
  return err instanceof QueryError;
}
