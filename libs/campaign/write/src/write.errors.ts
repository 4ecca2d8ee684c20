import type { CatalogueEntry } from '@cap/platform-errors';

/**
 * A write document that cannot be applied, raised by its catalogue entry (`ErrorCatalogue.UNKNOWN_FIELD`…). The
 * code comes first in the message (the SDK extracts it from the fault string); nothing of the document is written
 * when one is raised.
 */
export class WriteError extends Error {
  readonly code: string;

  constructor(
    readonly entry: CatalogueEntry,
    message: string,
    readonly details: { schema?: string; xpath?: string; line?: number } = {},
  ) {
    super(`${entry.code} ${message}`);
    this.code = entry.code;
    this.name = 'WriteError';
  }
}
