import type { RateLimitDecision } from './rate-limit.decision';

/**
 * Response headers and body of the limiter, per draft-ietf-httpapi-ratelimit-headers:
 * `RateLimit-Policy: "default";q=100;w=1` and `RateLimit: "default";r=0;t=1` (structured-field lists; `w` and
 * `t` in whole seconds, so a sub-second window is advertised as 1 s), plus `Retry-After` (whole seconds ≥ 1)
 * on denied calls.
 */

/** sf-string: quoted, with `\` and `"` escaped (policy names are validated to need neither). */
function sfString(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function formatRateLimitPolicy(decision: Pick<RateLimitDecision, 'policy' | 'limit' | 'windowMs'>): string {
  return `${sfString(decision.policy)};q=${decision.limit};w=${Math.max(1, Math.ceil(decision.windowMs / 1000))}`;
}

export function formatRateLimit(decision: Pick<RateLimitDecision, 'policy' | 'remaining' | 'resetMs'>): string {
  return `${sfString(decision.policy)};r=${decision.remaining};t=${Math.ceil(decision.resetMs / 1000)}`;
}

export function rateLimitHeaders(decision: RateLimitDecision): Record<string, string> {
  const headers: Record<string, string> = {
    'RateLimit-Policy': formatRateLimitPolicy(decision),
    RateLimit: formatRateLimit(decision),
  };
  if (!decision.allowed) headers['Retry-After'] = String(Math.max(1, decision.retryAfterSeconds ?? Math.ceil(decision.resetMs / 1000)));
  return headers;
}

/** `1 s`, `60 s`, `150 ms`. */
export function formatWindow(windowMs: number): string {
  return windowMs % 1000 === 0 ? `${windowMs / 1000} s` : `${windowMs} ms`;
}

/** The SDK reads any body containing this as "session expired" and re-logs on (docs/campaign-api.md#faults). */
const SESSION_EXPIRED_CODE = /XSV-?350008/i;

/**
 * Plain-text body of a 429 (never JSON: the SDK's HTTP client would parse it and crash). The API name comes
 * from the request, so it is reduced to URN characters, shortened, and left out altogether if it would put
 * the session-expired code in the body.
 */
export function formatTooManyRequestsBody(decision: RateLimitDecision, api: string): string {
  let name = api.replace(/[^A-Za-z0-9:|#_.-]/g, '?').slice(0, 128);
  const retry = `retry after ${Math.max(1, decision.retryAfterSeconds ?? 1)} s`;
  if (SESSION_EXPIRED_CODE.test(name)) name = '';
  const target = name ? ` for ${name}` : '';
  const text =
    decision.reason === 'unavailable'
      ? `Too Many Requests: the rate limiter cannot check the shared limit right now${target}; ${retry}\n`
      : `Too Many Requests: limit of ${decision.limit} calls per ${formatWindow(decision.windowMs)}${target}; ${retry}\n`;
  // Belt and braces: whatever changes above, this body must never read as a session expiry.
  return SESSION_EXPIRED_CODE.test(text) ? 'Too Many Requests\n' : text;
}
