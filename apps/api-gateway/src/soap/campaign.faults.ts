import { SoapFault } from '@cap/campaign-soap';
import { ErrorCatalogue } from '@cap/platform-errors';

/** Campaign's own faults for authentication and authorisation (the SDK reacts to SESSION_INVALID's code). */
export const CAMPAIGN_FAULTS = {
  invalidLogin: () => SoapFault.of(ErrorCatalogue.LOGON_REFUSED, {}),
  sessionExpired: () => SoapFault.of(ErrorCatalogue.SESSION_INVALID, {}),
  accessDenied: (login: string, what: string) => SoapFault.of(ErrorCatalogue.ACCESS_DENIED, { who: `operator '${login}'`, what }),
  identityProviderUnavailable: (why: string) => SoapFault.of(ErrorCatalogue.IDP_KEYS_UNAVAILABLE, { why }),
} as const;
