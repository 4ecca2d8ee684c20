/**
 * The catalogue of Campaign-style codes raised by the query library. The code is also the first word of every
 * message, as Campaign puts it at the start of `faultstring`.
 *
 * - `XTK-170036` is what Campaign answers for an expression it cannot parse (`XTK-170036 Unable to parse
 *   expression…`). We use it for every problem of the caller's queryDef: syntax, unknown attribute, link,
 *   function or schema, unsupported construct, a schema that cannot be queried in the chosen database.
 * - `XSV-350122` is OUR choice for `operation="get"` matching no record (Campaign answers with a SOAP fault
 *   whose exact code is not documented publicly). It keeps Campaign's `XSV-35xxxx` "server validation" family.
 */
export const QueryErrorCodes = {
  INVALID_QUERY: 'XTK-170036',
  NO_RECORD: 'XSV-350122',
} as const;

export type QueryErrorCode = (typeof QueryErrorCodes)[keyof typeof QueryErrorCodes];

/** What went wrong, for callers that branch on it (the code alone is coarse, like Campaign's). */
export type QueryErrorKind =
  | 'parse'
  | 'unknown-name'
  | 'invalid-query'
  | 'unsupported'
  | 'database'
  | 'limit'
  | 'no-record';
