import type { Request } from 'express';
import type { SoapCall } from '@cap/campaign-soap';
import type { Caller } from '../session/authenticator';
import type { ResolvedCall } from '../soap/soap.dispatcher';
import { HttpRefusal } from '../soap/soap.route';
import type { RateLimitRequest } from './rate-limit.decision';
import { formatTooManyRequestsBody, rateLimitHeaders } from './rate-limit.headers';
import type { RateLimiter } from './tps.limiter';

/** What the SDK itself downloads with `ACC-SDK-Call-Internal: 1`: schemas (sysEnums come with them). */
const SCHEMA_FETCH = /^xtk:(schema|srcSchema)\|/;

/**
 * What the limiter counts for one routed SOAP call: the canonical API (one bucket per API whatever the URN
 * spelling, so a caller cannot pick a fresh bucket), per operator or client address. The internal bucket is
 * only for what the SDK really fetches with its internal header: a schema download.
 */
export function toRateLimitRequest(resolved: Pick<ResolvedCall, 'api' | 'decoded'>, caller: Caller, req: Pick<Request, 'ip' | 'get'>): RateLimitRequest {
  const pk = resolved.decoded.values.get('pk');
  return {
    api: resolved.api,
    caller: caller.kind === 'operator' ? { kind: 'operator', id: caller.operator.login } : { kind: 'ip', id: req.ip || 'unknown' },
    internal: req.get('ACC-SDK-Call-Internal') === '1' && typeof pk === 'string' && SCHEMA_FETCH.test(pk),
  };
}

/**
 * The `admit` hook of `createSoapRouter`: runs once the caller is known, before the SOAP method runs. Sets the
 * rate-limit headers on the response; a denied call is refused with HTTP 429, `Retry-After` and a short
 * plain-text body (the router sends an `HttpRefusal` as it is).
 */
export function createSoapAdmission(deps: { limiter: RateLimiter }): (call: SoapCall, caller: Caller, req: Request, resolved: ResolvedCall) => Promise<void> {
  return async (_call, caller, req, resolved) => {
    const request = toRateLimitRequest(resolved, caller, req);
    const decision = await deps.limiter.decide(request);
    const headers = rateLimitHeaders(decision);
    if (!decision.allowed) throw new HttpRefusal(429, formatTooManyRequestsBody(decision, request.api), headers);
    for (const [name, value] of Object.entries(headers)) req.res?.setHeader(name, value);
  };
}
