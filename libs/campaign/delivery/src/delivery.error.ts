/**
 * Campaign-style codes of the delivery and message-center domain. The numbers are ours (Campaign's own
 * `DLV-49xxxx` codes for these conditions are not documented); the code is the first word of the message.
 */
export const DeliveryErrorCodes = {
  /** SubmitDelivery: no delivery template (`@isModel`) has that internal name (in the cloud copy). */
  UNKNOWN_TEMPLATE: 'DLV-490001',
  /** The content fragment is not a delivery, or carries a field that cannot be merged. */
  BAD_FRAGMENT: 'DLV-490002',
  /** The target definition is malformed, unsupported or does not compile on nms:recipient. */
  BAD_TARGET: 'DLV-490003',
  /** The subject or content has a personalisation syntax error or names an unknown field. */
  BAD_PERSONALISATION: 'DLV-490004',
  /** The delivery's routing names a channel this deployment has not configured. */
  UNKNOWN_CHANNEL: 'DLV-490005',
  /** The template has nothing to send (no content) or no usable sender for its channel. */
  NOTHING_TO_SEND: 'DLV-490006',
} as const;

export type DeliveryErrorCode = (typeof DeliveryErrorCodes)[keyof typeof DeliveryErrorCodes];

/** A problem of the caller's request: repeating it gives the same answer (SOAP-ENV:Client). */
export class DeliveryError extends Error {
  readonly retriable = false;
  constructor(
    readonly code: DeliveryErrorCode,
    text: string,
  ) {
    super(`${code} ${text}`);
    this.name = 'DeliveryError';
  }
}

export function isDeliveryError(err: unknown): err is DeliveryError {
  return err instanceof DeliveryError;
}
