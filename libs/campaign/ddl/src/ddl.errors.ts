import type { CatalogueEntry } from '@cap/platform-errors';

/**
 * Refusal to generate or apply DDL, raised by its catalogue entry (DDL_DESTRUCTIVE_CHANGE: the schemas ask for a
 * change that would lose data or take over a table the DDL does not own; DDL_INVALID_SCHEMA: a schema cannot be
 * turned into DDL — bad default, identifier too long, clashing columns). `problems` has one line per change or
 * defect, each starting with the code, so that an operator sees every blocker of a deployment at once. Not
 * retriable: the schemas (or the database, by hand) must change first.
 */
export class DdlError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(
    readonly entry: CatalogueEntry,
    readonly problems: string[],
  ) {
    super(problems.map((p) => `${entry.code} ${p}`).join('\n'));
    this.name = 'DdlError';
    this.code = entry.code;
    this.retriable = entry.retriable;
  }
}
