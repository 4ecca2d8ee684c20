import { isIdentifier } from './naming';

/** PostgreSQL's limit on identifier length (NAMEDATALEN - 1): longer names are silently truncated by the server. */
export const MAX_IDENTIFIER_LENGTH = 63;

/** A name `quoteIdent` accepts: letters, digits and underscores, not starting with a digit, at most 63 characters. */
export function isSqlIdentifier(name: string): boolean {
  return name.length <= MAX_IDENTIFIER_LENGTH && isIdentifier(name);
}

/**
 * A table, column or alias name, double-quoted for SQL. The one function every SQL builder uses (DDL, queries, writes,
 * staging). Only plain identifiers (isSqlIdentifier) are accepted: names come from compiled schemas or are generated,
 * so anything else (a quote, NUL, a space, a name PostgreSQL would truncate) is a programmer error or a hostile input,
 * never something to escape and hope.
 */
export function quoteIdent(name: string): string {
  if (!isSqlIdentifier(name)) {
    const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
    throw new Error(`${shown} is not a valid SQL identifier (letters, digits, underscores; at most ${MAX_IDENTIFIER_LENGTH} characters)`);
  }
  return `"${name}"`;
}

/**
 * A string literal: single quotes doubled (standard_conforming_strings is on in every supported PostgreSQL, so
 * backslashes are plain characters). NUL cannot be stored in PostgreSQL text and is refused. The one function
 * every SQL text builder uses for literals (DDL defaults and checks, BuildQueryEx's inlined values).
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\u0000')) throw new Error('a SQL literal cannot contain NUL');
  return `'${value.replace(/'/g, "''")}'`;
}
