export { SOAP_FAULTS, SoapFault } from './soap.fault';
export { parseSoapAction, parseSoapRequest, parseSoapRequestAsync, resolveUrn, type SoapCall, type SoapRequestOptions } from './soap.request';
export { decodeParams, type DecodedCall, type ParamValue } from './soap.params';
export { buildSoapFault, buildSoapResponse, rawXml, XSD_SCALAR_TYPES, type OutValue, type RawXml } from './soap.response';
