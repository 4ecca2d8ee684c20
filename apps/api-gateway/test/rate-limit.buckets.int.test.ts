import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { sdkLogon, startTestPlatform, testEndpoints, uniqueId, type TestPlatform } from '@cap/platform-testing';

const ROUTER = '/nl/jsp/soaprouter.jsp';
const WRITE_LIMIT = 20;

/**
 * Callers cannot choose their rate-limit bucket: every spelling of one API (`xtk:session#Write`,
 * `xtk:persist|xtk:session#Write`, `xtk:persist#Write`, a made-up `r7:persist|xtk:session`) is counted in one
 * window, the number of keys the limiter keeps does not grow with the spellings a caller invents, and the SDK's
 * internal bucket takes schema downloads only. A 60 s window makes the count exact whatever the machine's speed.
 */
describe('rate-limit buckets a caller cannot choose', () => {
  let platform: TestPlatform;
  let dir: string;
  let session: { token: string; security: string };

  const call = (urn: string, method: string, inner: string, headers: Record<string, string> = {}) =>
    fetch(`${platform.gatewayUrl}${ROUTER}`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml', SOAPAction: `${urn}#${method}`, 'X-Security-Token': session.security, ...headers },
      body: `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><m:${method} xmlns:m="urn:${urn}"><sessiontoken>${session.token}</sessiontoken>${inner}</m:${method}></SOAP-ENV:Body></SOAP-ENV:Envelope>`,
    });
  const write = (urn: string) => call(urn, 'Write', `<domDoc><service xtkschema="nms:service" name="${uniqueId('s')}" label="x"/></domDoc>`);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cap-buckets-'));
    const limits = join(dir, 'limits.json');
    // The limit is named by one spelling; every other spelling must fall in the same window.
    writeFileSync(
      limits,
      JSON.stringify({ windowMs: 60_000, default: { limit: 10_000 }, internal: { limit: 5 }, apis: { 'xtk:session#Write': { limit: WRITE_LIMIT } } }),
    );
    // A generous Redis budget: these tests are about which bucket counts a call, not about a slow Redis (which
    // makes each process decide on its own for a moment: rate-limit.redis-outage.int.test.ts).
    platform = await startTestPlatform({ envFor: { 'api-gateway': { RATE_LIMITS_FILE: limits, RATE_LIMIT_REDIS_TIMEOUT_MS: '2000' } } });
    const admin = await sdkLogon(platform.gatewayUrl, 'admin', 'admin');
    session = { token: admin._sessionToken, security: admin._securityToken };
  });

  afterAll(async () => {
    await platform?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when Write is sent through four URN spellings, then one window counts them all', async () => {
    const spellings = ['xtk:session', 'xtk:persist|xtk:session', 'xtk:persist', 'r7:persist|xtk:session'];
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => write(spellings[i % spellings.length]!)));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(WRITE_LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(60 - WRITE_LIMIT);
    // Every answer names the canonical API's policy, whatever the spelling used.
    expect(new Set(answers.map((r) => r.headers.get('ratelimit-policy')))).toEqual(new Set([`"xtk:persist#Write";q=${WRITE_LIMIT};w=60`]));
  });

  it('when a caller invents a new URN for every call, then the limiter keeps no more keys than APIs it was called on', async () => {
    for (let i = 0; i < 50; i++)
      await (await call(`r${i}:persist|xtk:session`, 'GetEntityIfMoreRecent', '<pk>xtk:schema|nms:recipient</pk><md5/><mustExist>false</mustExist>')).text();
    const redis = createClient({ url: testEndpoints().redisUrl });
    await redis.connect();
    try {
      const keys = await redis.keys(`${platform.topicPrefix}ratelimit:*`);
      // One key per (bucket, canonical API, caller): Write above, the SDK's Logon and schema downloads, this test's calls.
      const apis = new Set(keys.map((k) => k.slice(`${platform.topicPrefix}ratelimit:`.length).split(':').slice(0, 3).join(':')));
      expect([...apis].every((a) => /^(api|internal):(xtk:persist|xtk:session)#[A-Za-z]+$/.test(a))).toBe(true);
      expect(keys.length).toBeLessThanOrEqual(6);
    } finally {
      await redis.quit();
    }
  });

  it('when the SDK internal header comes with something other than a schema download, then the ordinary bucket counts it', async () => {
    const internal = { 'ACC-SDK-Call-Internal': '1' };
    const schemaFetch = await call('xtk:persist', 'GetEntityIfMoreRecent', '<pk>xtk:schema|nms:recipient</pk><md5/><mustExist>false</mustExist>', internal);
    expect(schemaFetch.headers.get('ratelimit-policy')).toBe('"internal";q=5;w=60');
    const other = await call('xtk:persist', 'GetEntityIfMoreRecent', '<pk>nms:recipient|1</pk><md5/><mustExist>false</mustExist>', internal);
    expect(other.headers.get('ratelimit-policy')).toBe('"default";q=10000;w=60');
    const logon = await call('xtk:session', 'GetOption', '<name>XtkDatabaseId</name>', internal);
    expect(logon.headers.get('ratelimit-policy')).toBe('"default";q=10000;w=60');
  });
});
