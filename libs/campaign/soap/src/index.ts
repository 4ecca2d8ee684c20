export { SOAP_FAULTS, SoapFault } from './soap.fault';
export { parseSoapAction, parseSoapRequest, resolveUrn, type SoapCall } from './soap.request';
export { decodeParams, type DecodedCall, type ParamValue } from './soap.params';
export { buildSoapFault, buildSoapResponse, type OutValue } from './soap.response';
