import { ErrorCatalogue } from '@cap/platform-errors';
import { QueryError } from './query.error';

/** Longest part of the caller's expression quoted back in a message (hostile input can be megabytes). */
const QUOTE_MAX = 200;

function quote(expr: string): string {
  return expr.length > QUOTE_MAX ? `${expr.slice(0, QUOTE_MAX)}…` : expr;
}

export type UnknownNameKind = 'attribute' | 'link' | 'function';

/**
 * An XTK expression that cannot be parsed or names something unknown. `position` is 1-based in the
 * expression; `token` is the offending text.
 *
 *   <QUERY_INVALID code> Unable to parse expression '<expr>': <what> at position <n>
 *   <QUERY_INVALID code> Unknown attribute|link|function '<token>' at position <n> of '<expr>'
 */
export class XtkExpressionError extends QueryError {
  readonly expression: string;
  readonly position: number;
  readonly token: string;

  private constructor(kind: 'parse' | 'unknown-name', text: string, expression: string, position: number, token: string) {
    super(ErrorCatalogue.QUERY_INVALID, kind, text);
    this.name = 'XtkExpressionError';
    this.expression = expression;
    this.position = position;
    this.token = token;
  }

  static syntax(expression: string, what: string, position: number, token = ''): XtkExpressionError {
    return new XtkExpressionError('parse', `Unable to parse expression '${quote(expression)}': ${what} at position ${position}`, expression, position, token);
  }

  static unknown(kind: UnknownNameKind, token: string, position: number, expression: string): XtkExpressionError {
    return new XtkExpressionError(
      'unknown-name',
      `Unknown ${kind} '${quote(token)}' at position ${position} of '${quote(expression)}'`,
      expression,
      position,
      token,
    );
  }
}
