import type { CatalogueEntry } from './error.catalogue';

/**
 * The base of a domain error raised by its catalogue entry (DeliveryError, WorkflowFault, QueryError…): the code is
 * the first word of the message, and the code and retry verdict are the entry's. A subclass names itself.
 */
export class CatalogueError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  constructor(
    readonly entry: CatalogueEntry,
    text: string,
  ) {
    super(`${entry.code} ${text}`);
    this.name = 'CatalogueError';
    this.code = entry.code;
    this.retriable = entry.retriable;
  }
}
