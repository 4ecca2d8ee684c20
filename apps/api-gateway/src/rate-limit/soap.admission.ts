import type { Request } from 'express';
import type { SoapCall } from '@cap/campaign-soap';
import type { Caller } from '../session/authenticator';
import { HttpRefusal } from '../soap/soap.route';
import type { RateLimitRequest } from './rate-limit.decision';
import { formatTooManyRequestsBody, rateLimitHeaders } from './rate-limit.headers';
import type { RateLimiter } from './tps.limiter';

/** What the limiter counts for one routed SOAP call: `urn#Method` as the client wrote it, per operator or IP. */
export function toRateLimitRequest(call: Pick<SoapCall, 'urn' | 'method'>, caller: Caller, req: Pick<Request, 'ip' | 'get'>): RateLimitRequest {
  return {
    api: `${call.urn}#${call.method}`,
    caller: caller.kind === 'operator' ? { kind: 'operator', id: caller.operator.login } : { kind: 'ip', id: req.ip || 'unknown' },
    internal: req.get('ACC-SDK-Call-Internal') === '1',
  };
}

/**
 * The `admit` hook of `createSoapRouter`: runs once the caller is known, before the handler. Sets the
 * rate-limit headers on the response; a denied call is refused with HTTP 429, `Retry-After` and a short
 * plain-text body (the router sends an `HttpRefusal` as it is).
 */
export function createSoapAdmission(deps: { limiter: RateLimiter }): (call: SoapCall, caller: Caller, req: Request) => Promise<void> {
  return async (call, caller, req) => {
    const request = toRateLimitRequest(call, caller, req);
    const decision = await deps.limiter.decide(request);
    const headers = rateLimitHeaders(decision);
    if (!decision.allowed) throw new HttpRefusal(429, formatTooManyRequestsBody(decision, request.api), headers);
    for (const [name, value] of Object.entries(headers)) req.res?.setHeader(name, value);
  };
}
