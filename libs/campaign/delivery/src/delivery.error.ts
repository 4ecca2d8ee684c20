import type { CatalogueEntry } from '@cap/platform-errors';

/**
 * A problem of the caller's delivery request, raised by its catalogue entry (`ErrorCatalogue.DELIVERY_BAD_TARGET`…):
 * repeating it gives the same answer (SOAP-ENV:Client). The code is the first word of the message.
 */
export class DeliveryError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  constructor(
    readonly entry: CatalogueEntry,
    text: string,
  ) {
    super(`${entry.code} ${text}`);
    this.name = 'DeliveryError';
    this.code = entry.code;
    this.retriable = entry.retriable;
  }
}

export function isDeliveryError(err: unknown): err is DeliveryError {
  return err instanceof DeliveryError;
}
