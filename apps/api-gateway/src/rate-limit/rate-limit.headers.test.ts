import type { RateLimitPolicy } from './rate-limit.config';
import { buildDecision, buildUnavailableDecision, type RateLimitDecision } from './rate-limit.decision';
import { formatRateLimit, formatRateLimitPolicy, formatTooManyRequestsBody, rateLimitHeaders } from './rate-limit.headers';

const policy: RateLimitPolicy = { name: 'default', limit: 100, windowMs: 1000, bucket: 'api' };
const denied: RateLimitDecision = {
  allowed: false,
  limit: 100,
  remaining: 0,
  resetMs: 350,
  retryAfterSeconds: 1,
  policy: 'default',
  windowMs: 1000,
  source: 'redis',
  reason: 'limit',
};

describe('rate-limit decision', () => {
  it('when a call is denied, then resetMs is the time until the oldest counted call leaves and Retry-After rounds it up', () => {
    // Shared window in µs: oldest at 10.200 s, now 10.850 s, window 1 s: a slot frees at 11.200 s.
    const d = buildDecision(policy, { allowed: false, count: 100, oldest: 10_200_000, now: 10_850_000, unitMs: 0.001 }, 'redis');
    expect(d).toMatchObject({ allowed: false, remaining: 0, resetMs: 350, retryAfterSeconds: 1, reason: 'limit' });
    const long = buildDecision({ ...policy, windowMs: 60_000 }, { allowed: false, count: 100, oldest: 0, now: 1_500, unitMs: 1 }, 'local');
    expect(long).toMatchObject({ resetMs: 58_500, retryAfterSeconds: 59 });
  });

  it('when a call is admitted, then remaining counts it and no Retry-After is given', () => {
    const d = buildDecision(policy, { allowed: true, count: 1, oldest: 5, now: 5, unitMs: 1 }, 'local');
    expect(d).toMatchObject({ allowed: true, remaining: 99, resetMs: 1000 });
    expect(d.retryAfterSeconds).toBeUndefined();
  });

  it('when the shared window is unavailable and fallback is deny, then the call is denied for 1 s', () => {
    expect(buildUnavailableDecision(policy)).toMatchObject({ allowed: false, retryAfterSeconds: 1, reason: 'unavailable', source: 'local' });
  });
});

describe('rate-limit headers', () => {
  it('when formatted, then they follow the IETF draft syntax', () => {
    expect(formatRateLimitPolicy({ policy: 'default', limit: 100, windowMs: 1000 })).toBe('"default";q=100;w=1');
    expect(formatRateLimit({ policy: 'default', remaining: 0, resetMs: 350 })).toBe('"default";r=0;t=1');
    expect(formatRateLimitPolicy({ policy: 'xtk:session#Logon', limit: 20, windowMs: 60_000 })).toBe('"xtk:session#Logon";q=20;w=60');
    expect(formatRateLimitPolicy({ policy: 'fast', limit: 20, windowMs: 150 })).toBe('"fast";q=20;w=1');
  });

  it('when a call is denied, then Retry-After is a whole number of seconds, at least 1', () => {
    expect(rateLimitHeaders(denied)).toEqual({ 'RateLimit-Policy': '"default";q=100;w=1', RateLimit: '"default";r=0;t=1', 'Retry-After': '1' });
    expect(rateLimitHeaders({ ...denied, resetMs: 0, retryAfterSeconds: 0 })['Retry-After']).toBe('1');
    expect(rateLimitHeaders({ ...denied, allowed: true, remaining: 7 })).toEqual({ 'RateLimit-Policy': '"default";q=100;w=1', RateLimit: '"default";r=7;t=1' });
  });

  it('when the 429 body is written, then it names the limit and API in plain text', () => {
    const body = formatTooManyRequestsBody(denied, 'xtk:session#Logon');
    expect(body).toBe('Too Many Requests: limit of 100 calls per 1 s for xtk:session#Logon; retry after 1 s\n');
    expect(() => JSON.parse(body)).toThrow();
    expect(formatTooManyRequestsBody({ ...denied, windowMs: 150 }, 'a:b#C')).toContain('per 150 ms');
  });

  it('when the API name is hostile, then the body never carries the session-expired code nor odd characters', () => {
    for (const api of ['XSV-350008', 'xsv-350008#x', 'a:b#XSV-350008', 'XSV350008', 'a"b<c>\r\nXSV-350008']) {
      const body = formatTooManyRequestsBody(denied, api);
      expect(body).not.toMatch(/XSV-?350008/i);
      expect(body).not.toMatch(/[<>"\r]/);
    }
    expect(formatTooManyRequestsBody(denied, 'x'.repeat(5_000)).length).toBeLessThan(250);
    expect(formatTooManyRequestsBody(buildUnavailableDecision(policy), 'XSV-350008')).not.toContain('350008');
  });

  it('when a JSON-looking API name is given, then the body is still not JSON', () => {
    expect(() => JSON.parse(formatTooManyRequestsBody(denied, '123'))).toThrow();
  });
});
