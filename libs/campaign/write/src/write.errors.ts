/**
 * A write document that cannot be applied. The Campaign-style code comes first in the message (the SDK
 * extracts it from the fault string); nothing of the document is written when one is raised.
 */
export class WriteError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: { schema?: string; xpath?: string; line?: number } = {},
  ) {
    super(`${code} ${message}`);
    this.name = 'WriteError';
  }
}

/** Codes of write errors (documented in docs/errors.md). */
export const WRITE_ERRORS = {
  missingSchema: 'XTK-170100',
  unknownSchema: 'XTK-170101',
  unknownField: 'XTK-170102',
  badValue: 'XTK-170103',
  noKey: 'XTK-170104',
  badOperation: 'XTK-170105',
  notStaged: 'XTK-170106',
  notWritable: 'XTK-170107',
  linkNotFound: 'XTK-170108',
  tooLong: 'XTK-170109',
  /** The caller lacks a right a written schema requires (Campaign's own access-denied code). */
  accessDenied: 'XSV-350013',
} as const;
