/**
 * Why a personalised template could not be compiled or rendered. `syntax` and `unknown-field` are problems of
 * the template itself (every message would fail the same way); `missing-value` and `function` depend on the
 * data of one message (one recipient, one event) and fail that message only.
 */
export type TemplateErrorKind = 'syntax' | 'unknown-field' | 'missing-value' | 'function';

export class TemplateError extends Error {
  constructor(
    readonly kind: TemplateErrorKind,
    text: string,
    /** 1-based position of the expression in the template (0 when not known). */
    readonly line = 0,
    readonly column = 0,
  ) {
    super(line > 0 ? `${text} (line ${line}, column ${column})` : text);
    this.name = 'TemplateError';
  }
}

export function isTemplateError(err: unknown): err is TemplateError {
  return err instanceof TemplateError;
}
