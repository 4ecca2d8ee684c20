import { SoapFault } from '@cap/campaign-soap';

/** Campaign's own fault codes for authentication and authorisation (the SDK reacts to XSV-350008). */
export const CAMPAIGN_FAULTS = {
  invalidLogin: () => new SoapFault('SOAP-ENV:Client', 'XSV-350001', 'Invalid login or password.'),
  sessionExpired: () => new SoapFault('SOAP-ENV:Client', 'XSV-350008', 'Session has expired or is invalid. Please reconnect.'),
  accessDenied: (login: string, what: string) => new SoapFault('SOAP-ENV:Client', 'XSV-350013', `Access denied: operator '${login}' may not ${what}.`),
  disabled: () => new SoapFault('SOAP-ENV:Client', 'XSV-350001', 'Invalid login or password.'),
} as const;
