import { ErrorCatalogue, renderMessage, type CatalogueEntry, type MessageParams, type SoapFaultClass } from '@cap/platform-errors';

/**
 * A fault the gateway answers with (HTTP 200, `SOAP-ENV:Fault`). `code` is the Campaign-style code the SDK
 * extracts from the start of faultstring (SESSION_INVALID, SOAP_UNKNOWN_METHOD…).
 */
export class SoapFault extends Error {
  constructor(
    readonly faultcode: SoapFaultClass,
    readonly code: string,
    readonly text: string,
    readonly detail?: string,
  ) {
    super(`${code} ${text}`);
    this.name = 'SoapFault';
  }

  get faultstring(): string {
    return `${this.code} ${this.text}`;
  }

  /** The fault of a catalogue entry: its code and fault class, its template filled in. */
  static of<E extends CatalogueEntry>(entry: E, params: MessageParams<E>, detail?: string): SoapFault {
    return new SoapFault(entry.fault, entry.code, renderMessage(entry, params), detail);
  }
}

export const SOAP_FAULTS = {
  malformed: (why: string) => SoapFault.of(ErrorCatalogue.SOAP_MALFORMED, { what: 'SOAP request', why }),
  unknownMethod: (urn: string, method: string) => SoapFault.of(ErrorCatalogue.SOAP_UNKNOWN_METHOD, { urn, method }),
  badParameter: (method: string, param: string, why: string) => SoapFault.of(ErrorCatalogue.SOAP_BAD_PARAMETER, { method, param, why }),
  methodFailed: (urn: string, method: string, detail?: string) => SoapFault.of(ErrorCatalogue.SOAP_METHOD_FAILED, { urn, method }, detail),
} as const;
