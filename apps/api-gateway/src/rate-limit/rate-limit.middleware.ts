import type { Request, RequestHandler, Response } from 'express';
import type { RateLimitDecision, RateLimitRequest } from './rate-limit.decision';
import { formatTooManyRequestsBody, rateLimitHeaders } from './rate-limit.headers';
import type { RateLimiter } from './tps.limiter';

/** Sets `RateLimit-Policy` and `RateLimit` (and `Retry-After` when denied) on any response. */
export function setRateLimitHeaders(res: Response, decision: RateLimitDecision): void {
  for (const [name, value] of Object.entries(rateLimitHeaders(decision))) res.setHeader(name, value);
}

/**
 * Answers a denied call at once: HTTP 429 (the SDK surfaces it as `statusCode: 429`; never a delay, the SDK
 * gives up after 5 s), the rate-limit headers, and a short plain-text body (never JSON, never SESSION_INVALID's code).
 */
export function sendTooManyRequests(res: Response, decision: RateLimitDecision, api: string): void {
  setRateLimitHeaders(res, decision);
  res.status(429).type('text/plain').send(formatTooManyRequestsBody(decision, api));
}

/** The method a SOAP call names: `SOAPAction` header (quoted or not), else the `soapAction` query parameter. */
export function findSoapAction(req: Request): string | undefined {
  const header = req.get('SOAPAction')?.trim().replace(/^"(.*)"$/, '$1').trim();
  if (header) return header;
  const query: unknown = req.query['soapAction'];
  return typeof query === 'string' && query.trim() ? query.trim() : undefined;
}

/**
 * What the limiter needs from a soaprouter call: the API (`urn#Method`; "unknown" when the call names none),
 * the caller (the operator login an earlier auth middleware put in `res.locals.operatorLogin`, else the
 * client IP as Express sees it: set `trust proxy` behind a load balancer) and the SDK's internal-call flag.
 */
export function identifySoapCall(req: Request, res: Response): RateLimitRequest {
  const login: unknown = res.locals['operatorLogin'];
  return {
    api: findSoapAction(req) ?? 'unknown',
    caller: typeof login === 'string' && login ? { kind: 'operator', id: login } : { kind: 'ip', id: req.ip ?? req.socket.remoteAddress ?? 'unknown' },
    internal: req.get('ACC-SDK-Call-Internal') === '1',
  };
}

/**
 * Express middleware: decides each call, sets the rate-limit headers on every answer, and answers 429 at once
 * when denied. `identify` returns undefined for calls that are not limited.
 */
export function createRateLimitMiddleware(deps: {
  limiter: RateLimiter;
  identify?: (req: Request, res: Response) => RateLimitRequest | undefined;
}): RequestHandler {
  const identify = deps.identify ?? identifySoapCall;
  return async (req, res, next) => {
    const request = identify(req, res);
    if (!request) return next();
    const decision = await deps.limiter.decide(request);
    if (!decision.allowed) return sendTooManyRequests(res, decision, request.api);
    setRateLimitHeaders(res, decision);
    next();
  };
}
