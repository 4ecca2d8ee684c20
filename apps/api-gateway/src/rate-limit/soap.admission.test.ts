import type { Request } from 'express';
import { HttpRefusal } from '../soap/soap.route';
import type { RateLimitDecision, RateLimitRequest } from './rate-limit.decision';
import { createSoapAdmission, toRateLimitRequest } from './soap.admission';
import type { RateLimiter } from './tps.limiter';

const operator = {
  kind: 'operator' as const,
  via: 'session' as const,
  operator: { id: '1', login: 'admin', label: 'Admin', rights: ['admin'], timezone: 'UTC' },
};

function fakeRequest(headers: Record<string, string> = {}) {
  const set: Record<string, string> = {};
  const req = {
    ip: '10.1.2.3',
    get: (name: string) => headers[name.toLowerCase()],
    res: { setHeader: (name: string, value: string) => void (set[name] = value) },
  } as unknown as Request;
  return { req, set };
}

/** A limiter answering a fixed decision and remembering what it was asked (the real one is covered by the *.int tests). */
function fixedLimiter(decision: RateLimitDecision) {
  const asked: RateLimitRequest[] = [];
  const limiter: RateLimiter = {
    decide: async (request) => {
      asked.push(request);
      return decision;
    },
    mode: 'shared',
    close: async () => undefined,
  };
  return { limiter, asked };
}

const base = { limit: 20, windowMs: 1000, policy: 'xtk:session#Logon', source: 'redis' as const };

describe('SOAP admission (createSoapRouter admit hook)', () => {
  const resolved = (api: string, values: Record<string, unknown> = {}) =>
    ({ api, decoded: { values: new Map(Object.entries(values)), sessionToken: '' } }) as never;

  it('when the caller is an operator, then the operator login is the caller; anonymous callers are counted by IP', () => {
    expect(toRateLimitRequest(resolved('xtk:session#Logon'), operator, fakeRequest().req).caller).toEqual({ kind: 'operator', id: 'admin' });
    expect(toRateLimitRequest(resolved('xtk:session#Logon'), { kind: 'anonymous' }, fakeRequest().req)).toEqual({
      api: 'xtk:session#Logon',
      caller: { kind: 'ip', id: '10.1.2.3' },
      internal: false,
    });
  });

  it('when a call carries the SDK internal header, then only a schema download counts as internal', () => {
    const { req } = fakeRequest({ 'acc-sdk-call-internal': '1' });
    expect(toRateLimitRequest(resolved('xtk:persist#GetEntityIfMoreRecent', { pk: 'xtk:schema|nms:recipient' }), operator, req).internal).toBe(true);
    expect(toRateLimitRequest(resolved('xtk:persist#GetEntityIfMoreRecent', { pk: 'xtk:srcSchema|nms:recipient' }), operator, req).internal).toBe(true);
    expect(toRateLimitRequest(resolved('xtk:persist#GetEntityIfMoreRecent', { pk: 'nms:recipient|42' }), operator, req).internal).toBe(false);
    expect(toRateLimitRequest(resolved('xtk:session#Logon'), operator, req).internal).toBe(false);
    expect(toRateLimitRequest(resolved('xtk:persist#GetEntityIfMoreRecent', { pk: 'xtk:schema|nms:recipient' }), operator, fakeRequest().req).internal).toBe(
      false,
    );
  });

  it('when the call is allowed, then the rate-limit headers are set on the response and the call goes on', async () => {
    const { limiter } = fixedLimiter({ ...base, allowed: true, remaining: 7, resetMs: 400 });
    const { req, set } = fakeRequest();
    await createSoapAdmission({ limiter })({ urn: 'xtk:session', method: 'Logon' } as never, { kind: 'anonymous' }, req, resolved('xtk:session#Logon'));
    expect(set).toEqual({ 'RateLimit-Policy': '"xtk:session#Logon";q=20;w=1', RateLimit: '"xtk:session#Logon";r=7;t=1' });
  });

  it('when the call is denied, then it is refused with 429, Retry-After and the rate-limit headers in plain text', async () => {
    const { limiter } = fixedLimiter({ ...base, allowed: false, remaining: 0, resetMs: 1_500, retryAfterSeconds: 2, reason: 'limit' });
    const refusal = await createSoapAdmission({ limiter })(
      { urn: 'xtk:session', method: 'Logon' } as never,
      operator,
      fakeRequest().req,
      resolved('xtk:session#Logon'),
    ).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refusal).toBeInstanceOf(HttpRefusal);
    const { status, headers, body } = refusal as HttpRefusal;
    expect({ status, headers }).toEqual({
      status: 429,
      headers: { 'RateLimit-Policy': '"xtk:session#Logon";q=20;w=1', RateLimit: '"xtk:session#Logon";r=0;t=2', 'Retry-After': '2' },
    });
    expect(body).toBe('Too Many Requests: limit of 20 calls per 1 s for xtk:session#Logon; retry after 2 s\n');
  });
});
