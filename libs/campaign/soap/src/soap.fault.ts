/**
 * A fault the gateway answers with (HTTP 200, `SOAP-ENV:Fault`). `code` is the Campaign-style code the SDK
 * extracts from the start of faultstring (`XSV-350008`, `SOP-330006`…).
 */
export class SoapFault extends Error {
  constructor(
    readonly faultcode: 'SOAP-ENV:Client' | 'SOAP-ENV:Server',
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
}

export const SOAP_FAULTS = {
  malformed: (why: string) => new SoapFault('SOAP-ENV:Client', 'SOP-330001', `Malformed SOAP request: ${why}`),
  unknownMethod: (urn: string, method: string) => new SoapFault('SOAP-ENV:Client', 'SOP-330006', `Method '${method}' of service '${urn}' is not defined.`),
  badParameter: (method: string, param: string, why: string) =>
    new SoapFault('SOAP-ENV:Client', 'SOP-330008', `Invalid parameter '${param}' of method '${method}': ${why}`),
  methodFailed: (urn: string, method: string, detail?: string) =>
    new SoapFault('SOAP-ENV:Server', 'SOP-330011', `Error while executing the method '${method}' of service '${urn}'.`, detail),
} as const;
