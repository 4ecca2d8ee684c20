import { CatalogueError, type CatalogueEntry } from '@cap/platform-errors';

/**
 * A problem of the caller's delivery request, raised by its catalogue entry (`ErrorCatalogue.DELIVERY_BAD_TARGET`…):
 * repeating it gives the same answer (SOAP-ENV:Client). The code is the first word of the message.
 */
export class DeliveryError extends CatalogueError {
  constructor(entry: CatalogueEntry, text: string) {
    super(entry, text);
    this.name = 'DeliveryError';
  }
}

export function isDeliveryError(err: unknown): err is DeliveryError {
  return err instanceof DeliveryError;
}
