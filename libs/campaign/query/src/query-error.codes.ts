/**
 * What went wrong in a query, for callers that branch on it (the code alone is coarse, like Campaign's). The codes
 * are the catalogue's (libs/platform/errors/src/error.catalogue.ts): QUERY_INVALID is what Campaign answers for an
 * expression it cannot parse, used for every problem of the caller's queryDef (syntax, unknown attribute, link,
 * function or schema, unsupported construct, a schema that cannot be queried in the chosen database); NO_RECORD is
 * OUR choice for `operation="get"` matching no record (Campaign answers with a SOAP fault whose exact code is not
 * documented publicly), in Campaign's `XSV-35xxxx` "server validation" family.
 */
export type QueryErrorKind = 'parse' | 'unknown-name' | 'invalid-query' | 'unsupported' | 'database' | 'limit' | 'no-record';
