export {
  API_NAME_PATTERN,
  DEFAULT_INTERNAL_APIS,
  canonicalizeRateLimitConfig,
  DEFAULT_RATE_LIMITS,
  loadRateLimitConfig,
  parseRateLimitConfig,
  resolvePolicy,
  type RateLimitConfig,
  type RateLimitFallback,
  type RateLimitPolicy,
} from './rate-limit.config';
export type { RateLimitCaller, RateLimitDecision, RateLimitRequest } from './rate-limit.decision';
export { formatRateLimit, formatRateLimitPolicy, formatTooManyRequestsBody, rateLimitHeaders } from './rate-limit.headers';
export type { LimiterMode } from './rate-limit.metrics';
export { createSoapAdmission, toRateLimitRequest } from './soap.admission';
export { createRateLimiter, type RateLimiter, type RateLimiterDeps } from './tps.limiter';
