/** Codes of the schema DDL's errors (Campaign style: a stable code at the start of every line). */
export const DdlErrorCodes = {
  /** The schemas ask for a change that would lose data or take over a table the DDL does not own. */
  DESTRUCTIVE_CHANGE: 'DDL-000001',
  /** A schema cannot be turned into DDL (bad default, identifier too long, clashing columns). */
  INVALID_SCHEMA: 'DDL-000002',
} as const;

export type DdlErrorCode = (typeof DdlErrorCodes)[keyof typeof DdlErrorCodes];

/**
 * Refusal to generate or apply DDL. `problems` has one line per change or defect, each starting with the
 * code, so that an operator sees every blocker of a deployment at once. Not retriable: the schemas (or
 * the database, by hand) must change first.
 */
export class DdlError extends Error {
  readonly retriable = false;

  constructor(
    readonly code: DdlErrorCode,
    readonly problems: string[],
  ) {
    super(problems.map((p) => `${code} ${p}`).join('\n'));
    this.name = 'DdlError';
  }
}
