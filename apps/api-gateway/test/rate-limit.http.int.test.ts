import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { Registry } from 'prom-client';
import { createLogger } from '@cap/platform-logger';
import { createRedis, type RedisClient } from '@cap/platform-redis';
import { testEndpoints, uniqueId } from '@cap/platform-testing';
import type { Method } from '@cap/campaign-schema';
import { createRateLimiter, createSoapAdmission, parseRateLimitConfig, type RateLimiter } from '../src/rate-limit';
import type { Dispatcher } from '../src/soap/soap.dispatcher';
import { createSoapRouter } from '../src/soap/soap.route';
import { createAdmissionDispatcher } from './fixtures/admission.dispatcher';
import { soapEnvelope } from './fixtures/raw-soap';

// The unmodified SDK, to check how it surfaces our 429 (docs/campaign-api.md#rate-limiting-as-the-client-sees-it).
const sdk = require('@adobe/acc-js-sdk') as {
  ConnectionParameters: { ofUserAndPassword(url: string, user: string, password: string): unknown; ofAnonymousUser(url: string): unknown };
  init(params: unknown): Promise<{
    logon(): Promise<void>;
    makeSoapCall(urn: string, method: string, isStatic: boolean, inputs: unknown[], outputs: { name: string; type: string }[]): Promise<unknown[]>;
  }>;
};

const quiet = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

interface Answer {
  status: number;
  headers: Headers;
  body: string;
  ms: number;
}

/**
 * The limiter's HTTP answers (L2 in docs/targets.md), against the real Redis: the gateway's own SOAP router with
 * the limiter in its `admit` hook (as main.ts wires it), mounted twice in front of stand-in dispatchers: at the
 * root, where `X-Test-Operator` names the authenticated operator (fixtures/admission.dispatcher.ts), and under
 * /soap, where every call is an anonymous GetServerTime called by the unmodified SDK.
 */
describe('rate limiter: HTTP answers of a limited call, 429 with Retry-After and RateLimit headers (L2)', () => {
  let redis: RedisClient;
  let limiter: RateLimiter;
  let server: Server;
  let baseUrl: string;
  const admission = createAdmissionDispatcher();
  const soapAnswers: { status: number; ratelimit: string | null; retryAfter: string | null }[] = [];
  const registry = new Registry();

  beforeAll(async () => {
    redis = await createRedis({ url: testEndpoints().redisUrl, logger: quiet });
    limiter = await createRateLimiter({
      redis,
      logger: quiet,
      registry,
      keyPrefix: `${uniqueId('rl_l2')}:`,
      // HTTP answers are under test here, not the fallback: a generous budget keeps a starved CI machine from
      // deciding some calls locally (the L3 tests cover that path and its 50 ms bound).
      redisTimeoutMs: 1_000,
      config: parseRateLimitConfig({
        windowMs: 1000,
        default: { limit: 3 },
        internal: { limit: 10 },
        apis: { 'xtk:session#Logon': { limit: 2 }, 'xtk:session#GetServerTime': { limit: 2 } },
      }),
    });
    const app = express();
    // The gateway's real SOAP router with the limiter in its admit hook; the dispatcher is a stand-in that
    // answers GetServerTime for an anonymous caller (authentication is not under test here).
    const getServerTime: Method = { name: 'GetServerTime', static: true, const: false, params: [{ name: 'serverTime', type: 'datetime', inout: 'out' }] };
    const dispatcher: Dispatcher = {
      resolve: () => {
        throw new Error('not used by the router');
      },
      canonicalName: (api) => api,
      async dispatch(_call, _request, admit) {
        await admit?.({ kind: 'anonymous' }, { api: 'xtk:session#GetServerTime', decoded: { sessionToken: '', values: new Map() } });
        return { outputs: [new Date()], method: getServerTime };
      },
    };
    const soap = express.Router();
    soap.use((_req, res, next) => {
      res.on('finish', () => soapAnswers.push({ status: res.statusCode, ratelimit: res.get('RateLimit') ?? null, retryAfter: res.get('Retry-After') ?? null }));
      next();
    });
    soap.use(createSoapRouter({ dispatcher, logger: quiet, maxBodyBytes: 1_000_000, xmlLimits: {}, admit: createSoapAdmission({ limiter }) }));
    app.use('/soap', soap);
    app.use(createSoapRouter({ dispatcher: admission, logger: quiet, maxBodyBytes: 1_000_000, xmlLimits: {}, admit: createSoapAdmission({ limiter }) }));
    await new Promise<void>((resolve) => {
      server = app.listen(0, '127.0.0.1', () => resolve());
    });
    baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await limiter?.close();
    await redis?.close();
  });

  async function call(api: string, headers: Record<string, string> = {}, inner = ''): Promise<Answer> {
    const t0 = performance.now();
    const [urn, method] = api.split('#') as [string, string];
    const res = await fetch(`${baseUrl}/nl/jsp/soaprouter.jsp?soapAction=${encodeURIComponent(api)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/soap+xml;charset=UTF-8', SoapAction: api, ...headers },
      body: soapEnvelope(urn, method, `<sessiontoken/>${inner}`),
    });
    return { status: res.status, headers: res.headers, body: await res.text(), ms: performance.now() - t0 };
  }

  function expectWellFormed429(answer: Answer, expected: { policy: string; limit: number; api: string }) {
    expect(answer.status).toBe(429);
    expect(answer.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(answer.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(answer.headers.get('ratelimit-policy')).toBe(`"${expected.policy}";q=${expected.limit};w=1`);
    expect(answer.headers.get('ratelimit')).toMatch(new RegExp(`^"${expected.policy}";r=0;t=[01]$`));
    expect(answer.body).toContain(`Too Many Requests: limit of ${expected.limit} calls per 1 s for ${expected.api}`);
    expect(answer.body).not.toContain('XSV-350008');
    expect(() => JSON.parse(answer.body)).toThrow();
  }

  it('when a caller bursts past its limit, then every denied call is answered 429 at once with Retry-After, RateLimit-Policy and RateLimit', async () => {
    const operator = { 'X-Test-Operator': uniqueId('op') };
    const answers = await Promise.all(Array.from({ length: 8 }, () => call('xtk:queryDef#ExecuteQuery', operator)));
    const admitted = answers.filter((a) => a.status === 200);
    const denied = answers.filter((a) => a.status !== 200);
    expect({ admitted: admitted.length, denied: denied.length }).toEqual({ admitted: 3, denied: 5 });
    for (const a of denied) {
      expectWellFormed429(a, { policy: 'default', limit: 3, api: 'xtk:queryDef#ExecuteQuery' });
      expect(a.ms).toBeLessThan(500); // answered, not queued
    }
    // Allowed answers carry the headers too, with what is left.
    expect(admitted.map((a) => a.headers.get('ratelimit-policy'))).toEqual(Array(3).fill('"default";q=3;w=1'));
    expect(admitted.map((a) => a.headers.get('ratelimit')).sort()).toEqual(['"default";r=0;t=1', '"default";r=1;t=1', '"default";r=2;t=1']);
    expect(admitted.every((a) => a.headers.get('retry-after') === null)).toBe(true);
  });

  it('when a denied client waits Retry-After and then retries, then it is admitted', async () => {
    const operator = { 'X-Test-Operator': uniqueId('op') };
    for (let i = 0; i < 2; i++) expect((await call('xtk:session#Logon', operator)).status).toBe(200);
    const denied = await call('xtk:session#Logon', operator);
    expectWellFormed429(denied, { policy: 'xtk:session#Logon', limit: 2, api: 'xtk:session#Logon' });
    await sleep(Number(denied.headers.get('retry-after')) * 1000); // what a well-behaved client does
    const retried = await call('xtk:session#Logon', operator);
    expect(retried.status).toBe(200);
    expect(retried.headers.get('ratelimit')).toMatch(/^"xtk:session#Logon";r=[01];t=1$/);
  });

  it('when the SDK downloads schemas (ACC-SDK-Call-Internal: 1), then they count in the internal bucket, not the caller’s own limit', async () => {
    const operator = { 'X-Test-Operator': uniqueId('op') };
    const internal = { ...operator, 'ACC-SDK-Call-Internal': '1' };
    const pk = '<pk>xtk:schema|nms:recipient</pk>';
    const schemaLoads = await Promise.all(Array.from({ length: 10 }, () => call('xtk:persist#GetEntityIfMoreRecent', internal, pk)));
    expect(schemaLoads.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(schemaLoads[0]!.headers.get('ratelimit-policy')).toBe('"internal";q=10;w=1');
    expectWellFormed429(await call('xtk:persist#GetEntityIfMoreRecent', internal, pk), {
      policy: 'internal',
      limit: 10,
      api: 'xtk:persist#GetEntityIfMoreRecent',
    });
    // A user-initiated getSchema (no header) still has its own quota.
    expect((await call('xtk:persist#GetEntityIfMoreRecent', operator, pk)).status).toBe(200);
  });

  it('when a client sets the internal header on Logon, then it is ignored and Logon keeps its own limit', async () => {
    const headers = { 'X-Test-Operator': uniqueId('op'), 'ACC-SDK-Call-Internal': '1' };
    const answers = await Promise.all(Array.from({ length: 4 }, () => call('xtk:session#Logon', headers)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(2);
    expect(answers.find((a) => a.status === 429)?.headers.get('ratelimit-policy')).toBe('"xtk:session#Logon";q=2;w=1');
  });

  it('when the method called is named like the session-expired code, then the 429 body still does not contain it', async () => {
    const operator = { 'X-Test-Operator': uniqueId('op') };
    const answers = await Promise.all(Array.from({ length: 4 }, () => call('xtk:session#XSV-350008', operator)));
    const denied = answers.filter((a) => a.status === 429);
    expect(denied).toHaveLength(1);
    expect(denied[0]!.body).not.toContain('350008');
  });

  it('when the unmodified SDK is limited, then it surfaces HTTP 429 and does not mistake it for an expired session', async () => {
    // Anonymous caller (no operator yet at Logon): limited by client IP. Use up the IP's Logon quota first.
    const before = admission.calls;
    while ((await call('xtk:session#Logon')).status === 200);
    const client = await sdk.init(sdk.ConnectionParameters.ofUserAndPassword(baseUrl, 'admin', 'secret'));
    const failure = (await client.logon().then(
      () => undefined,
      (err: unknown) => err,
    )) as { statusCode?: number; errorCode?: string; message?: string } | undefined;
    expect(failure?.statusCode).toBe(429);
    expect(failure?.errorCode).not.toBe('SDK-000012');
    expect(failure?.message ?? '').not.toMatch(/Session has expired/);
    expect(admission.calls - before).toBe(2); // the SDK's call never reached the handler
  });

  it('when the SDK calls through the gateway SOAP router, then answers carry the rate-limit headers and the call over the limit is a 429 the SDK reports as such', async () => {
    soapAnswers.length = 0;
    const client = await sdk.init(sdk.ConnectionParameters.ofAnonymousUser(`${baseUrl}/soap`));
    const time = () => client.makeSoapCall('xtk:session', 'GetServerTime', true, [], [{ name: 'serverTime', type: 'datetime' }]);
    expect((await time())[0]).toBeInstanceOf(Date);
    expect((await time())[0]).toBeInstanceOf(Date);
    const failure = (await time().then(
      () => undefined,
      (err: unknown) => err,
    )) as { statusCode?: number; errorCode?: string } | undefined;
    expect(failure?.statusCode).toBe(429);
    expect(failure?.errorCode).not.toBe('SDK-000012');
    expect(soapAnswers).toEqual([
      { status: 200, ratelimit: '"xtk:session#GetServerTime";r=1;t=1', retryAfter: null },
      { status: 200, ratelimit: '"xtk:session#GetServerTime";r=0;t=1', retryAfter: null },
      { status: 429, ratelimit: expect.stringMatching(/^"xtk:session#GetServerTime";r=0;t=1$/), retryAfter: '1' },
    ]);
  });

  it('when calls are decided, then cap_ratelimit_decisions_total counts them by API, caller class and result', async () => {
    const text = await registry.metrics();
    expect(text).toMatch(/cap_ratelimit_decisions_total\{api="xtk:queryDef#ExecuteQuery",caller_class="operator",result="limited"\} [1-9]/);
    expect(text).toMatch(/cap_ratelimit_decisions_total\{api="xtk:persist#GetEntityIfMoreRecent",caller_class="internal",result="allowed"\} 10/);
    expect(text).toMatch(/cap_ratelimit_decisions_total\{api="xtk:session#Logon",caller_class="anonymous",result="limited"\} [1-9]/);
    expect(text).toMatch(/cap_ratelimit_mode\{mode="shared"\} 1/);
  });
});
