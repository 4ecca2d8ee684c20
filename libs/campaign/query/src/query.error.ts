import { CatalogueError, ErrorCatalogue, renderMessage, type CatalogueEntry, type SoapFaultClass } from '@cap/platform-errors';
import type { QueryErrorKind } from './query-error.codes';

/**
 * The one error type of the query library, raised by its catalogue entry (QUERY_INVALID, NO_RECORD). The message
 * starts with the code, as Campaign puts it at the start of `faultstring`.
 */
export class QueryError extends CatalogueError {
  readonly kind: QueryErrorKind;
  readonly soapFaultCode: SoapFaultClass;

  /** Query errors are about the request itself: repeating it gives the same answer (the entry's retry verdict). */
  constructor(entry: CatalogueEntry, kind: QueryErrorKind, text: string) {
    super(entry, text);
    this.name = 'QueryError';
    this.kind = kind;
    this.soapFaultCode = entry.fault;
  }

  /** A queryDef that cannot be compiled (QUERY_INVALID). */
  static invalid(text: string, kind: QueryErrorKind = 'invalid-query'): QueryError {
    return new QueryError(ErrorCatalogue.QUERY_INVALID, kind, text);
  }

  /** `operation="get"` found nothing (NO_RECORD: `No record found for query on 'nms:recipient'`). */
  static noRecord(schemaId: string): QueryError {
    return new QueryError(ErrorCatalogue.NO_RECORD, 'no-record', renderMessage(ErrorCatalogue.NO_RECORD, { schema: schemaId }));
  }
}

export function isQueryError(err: unknown): err is QueryError {
  return err instanceof QueryError;
}
