/** What a PostgreSQL error means for the caller of a request, and what only the operator may read. */
export interface PgErrorVerdict {
  /** SQLSTATE class 22 (data), 23 (integrity) or 42 (syntax, rules): the request caused it; retrying cannot help. */
  requestCaused: boolean;
  /** SQLSTATE class 40 (deadlock, serialization failure): the server rolled the transaction back; it may be retried. */
  rolledBack: boolean;
  /**
   * SQLSTATE 57014 (query_canceled): the statement ran past its statement_timeout (or was cancelled). The database
   * is not at fault, nor is the data: a caller that set the timeout for the request's own work (a workflow's
   * query or update activity) reports it as that work's failure, like a refusal.
   */
  statementTimeout: boolean;
  /** Safe for any caller: the kind of refusal, never a constraint name, a column or a row. */
  publicMessage: string;
  /** PostgreSQL's own text with its detail, for the service's log only. */
  privateDetail: string;
  sqlState?: string;
}

const PUBLIC_MESSAGES: [RegExp, string][] = [
  [/^23505$/, 'a record with the same key already exists'],
  [/^23502$/, 'a required value is missing'],
  [/^23503$/, 'a linked record does not exist or is still referenced'],
  [/^23514$/, 'a value breaks a rule of the data model'],
  [/^23/, 'the data breaks an integrity rule'],
  [/^22/, 'a value is malformed or out of range'],
  [/^42/, 'the statement was refused'],
  [/^57014$/, 'the statement ran too long and was cancelled'],
  [/^40/, 'the transaction conflicted with another one'],
];

/**
 * The one reading of PostgreSQL errors: SQLSTATE classes 22, 23 and 42 are the request's fault (bad data: not
 * retried, never counted against a circuit breaker; a consumer quarantines the message, a service refuses the
 * request), anything else is the database's or the connection's (retriable: the database is unavailable).
 */
export function classifyPgError(err: unknown): PgErrorVerdict {
  const e = err as { code?: unknown; message?: unknown; detail?: unknown };
  const sqlState = typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
  const text = typeof e?.message === 'string' ? e.message : String(err);
  const detail = typeof e?.detail === 'string' ? ` (${e.detail})` : '';
  const publicMessage = (sqlState && PUBLIC_MESSAGES.find(([pattern]) => pattern.test(sqlState))?.[1]) || 'the database could not complete the request';
  return {
    requestCaused: sqlState !== undefined && /^(22|23|42)/.test(sqlState),
    rolledBack: sqlState !== undefined && sqlState.startsWith('40'),
    statementTimeout: sqlState === '57014',
    publicMessage,
    privateDetail: `${sqlState ? `${sqlState} ` : ''}${text}${detail}`,
    ...(sqlState ? { sqlState } : {}),
  };
}
