import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import {
  failure,
  sdkLogon,
  sdkSessionLogon,
  startTestPlatform,
  uniqueId,
  waitFor,
  withDb,
  type ServiceProcess,
  type TestPlatform,
} from '@cap/platform-testing';

// Adobe's own client, unmodified.
const sdk = require('@adobe/acc-js-sdk');

const JWT_SECRET = 'test-secret-for-bearer-logon-0123456789';
const ROUTER = '/nl/jsp/soaprouter.jsp';

const envelope = (urn: string, method: string, inner: string) =>
  `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><m:${method} xmlns:m="urn:${urn}">${inner}</m:${method}></SOAP-ENV:Body></SOAP-ENV:Envelope>`;

/**
 * Authentication as an attacker tries it, against the real gateway, local-store and Redis: password guessing
 * through every way of presenting a password is counted per login and per client address across replicas and
 * refused with 429 and Retry-After; client addresses come from X-Forwarded-For only behind a configured proxy;
 * bearer tokens need an expiry within the configured lifetime and an allowed algorithm; a rights change or a
 * disabled operator applies to sessions already open, on every replica, within a second.
 */
describe('authentication under attack', () => {
  let platform: TestPlatform;
  let url: string;
  let secondGateway: string;
  let limitsDir: string;
  let firstGateway: ServiceProcess | undefined;

  const soap = (base: string, urn: string, method: string, inner: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${ROUTER}`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml', SOAPAction: `${urn}#${method}`, ...headers },
      body: envelope(urn, method, inner),
    });
  const logonCall = (base: string, login: string, password: string, headers: Record<string, string> = {}) =>
    soap(base, 'xtk:session', 'Logon', `<sessiontoken/><login>${login}</login><password>${password}</password><parameters/>`, headers);
  const localQuery = async (sql: string, params: unknown[] = []) => (await withDb(platform.localDb.url, (c) => c.query(sql, params))).rows;
  const createOperator = async (admin: { NLWS: { xtkSession: { write(doc: unknown): Promise<void> } } }, rights: string) => {
    const login = uniqueId('op').replace(/-/g, '_');
    await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:operator', name: login, label: login, rights });
    // A password for it, as an administrator's provisioning would set it (credentials live beside the operator).
    await localQuery(
      `INSERT INTO cap_operator_credential (login, password_hash, allow_login_token) SELECT $1, password_hash, true FROM cap_operator_credential WHERE login = 'mc'`,
      [login],
    );
    return login; // its password is mc's: "mc"
  };

  beforeAll(async () => {
    // Rate limits far above what these tests send: every 429 seen here comes from the authentication throttle.
    limitsDir = mkdtempSync(join(tmpdir(), 'cap-auth-'));
    const limits = join(limitsDir, 'limits.json');
    writeFileSync(limits, JSON.stringify({ default: { limit: 100_000 }, apis: { 'xtk:session#Logon': { limit: 100_000 } } }));
    platform = await startTestPlatform({
      envFor: {
        'api-gateway': {
          RATE_LIMITS_FILE: limits,
          JWT_SECRET,
          JWT_MAX_LIFETIME_MS: '3600000',
          TRUST_PROXY: '10.9.8.7',
          AUTH_FAIL_LOGIN_THRESHOLD: '5',
          AUTH_FAIL_ADDRESS_THRESHOLD: '60',
        },
      },
    });
    url = platform.gatewayUrl;
    // A second gateway replica on the same Redis, Kafka topics and databases (the platform then tracks the second;
    // the first is stopped here at the end).
    firstGateway = platform.procs.get('api-gateway')!;
    const second = await platform.replace('api-gateway');
    secondGateway = second.url;
  });

  afterAll(async () => {
    await firstGateway?.stop();
    await platform?.stop();
    rmSync(limitsDir, { recursive: true, force: true });
  });

  it('when one login is guessed through both replicas, then after the threshold every attempt gets 429 with Retry-After, growing, and the right password is refused too while locked', async () => {
    const admin = await sdkLogon(url, 'admin', 'admin');
    const victim = await createOperator(admin, 'messageCenter');
    const statuses: number[] = [];
    const retryAfters: number[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await logonCall(i % 2 === 0 ? url : secondGateway, victim, `guess${i}`);
      statuses.push(res.status);
      if (res.status === 429) {
        retryAfters.push(Number(res.headers.get('retry-after')));
        expect(await res.text()).toMatch(/^Too many failed authentications/);
      } else {
        expect(await res.text()).toContain('XSV-350001');
      }
    }
    // Five failures are checked (one scrypt each), the rest are refused unchecked.
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.slice(5).every((s) => s === 429)).toBe(true);
    expect(retryAfters.every((s) => s >= 1)).toBe(true);
    const locked = await logonCall(url, victim, 'mc');
    expect(locked.status).toBe(429);
    // Once the lock has passed, the right password works again (and clears the login's failures).
    const wait = Number(locked.headers.get('retry-after'));
    await new Promise((r) => setTimeout(r, wait * 1000 + 200));
    const ok = await logonCall(secondGateway, victim, 'mc');
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('LogonResponse');
  });

  it('when passwords are guessed through login/password session tokens and HTTP Basic, then they are counted and locked the same way', async () => {
    const admin = await sdkLogon(url, 'admin', 'admin');
    const victim = await createOperator(admin, 'messageCenter');
    const viaToken: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await soap(url, 'xtk:session', 'GetOption', `<sessiontoken>${victim}/guess${i}</sessiontoken><name>XtkDatabaseId</name>`);
      viaToken.push(res.status);
      await res.text();
    }
    expect(viaToken.slice(0, 5).every((s) => s === 200)).toBe(true); // XSV-350008 faults
    expect(viaToken.slice(5).every((s) => s === 429)).toBe(true);
    const other = await createOperator(admin, 'messageCenter');
    const viaBasic: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${url}/nl/jsp/reporting.jsp?format=json`, {
        headers: { Authorization: `Basic ${Buffer.from(`${other}:guess${i}`).toString('base64')}` },
      });
      viaBasic.push(res.status);
      await res.text();
    }
    expect(viaBasic.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(viaBasic.slice(5).every((s) => s === 429)).toBe(true);
  });

  it('when a Basic password is over 1,024 characters, then the answer is 401 without internal text', async () => {
    const res = await fetch(`${url}/nl/jsp/reporting.jsp?format=json`, {
      headers: { Authorization: `Basic ${Buffer.from(`admin:${'x'.repeat(5_000)}`).toString('base64')}` },
    });
    expect(res.status).toBe(401);
    const body = await res.text();
    expect(body).not.toMatch(/operator\.authenticate|Too big|zod|parameters/i);
    // A Logon with such a password is a wrong password: XSV-350001, nothing internal.
    const logon = await (await logonCall(secondGateway, 'nobody-here', 'y'.repeat(5_000))).text();
    expect(logon).toContain('XSV-350001');
    expect(logon).not.toMatch(/operator\.authenticate|Too big|CAP-100301/);
  });

  it('when a bearer token has no expiry, a lifetime over the limit or an algorithm not allowed, then it is refused', async () => {
    const key = new TextEncoder().encode(JWT_SECRET);
    const bearerLogon = async (jwt: string) => (await soap(url, 'xtk:session', 'BearerTokenLogon', `<sessiontoken/><bearerToken>${jwt}</bearerToken>`)).text();
    expect(
      await bearerLogon(await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('admin').setIssuedAt().setExpirationTime('5m').sign(key)),
    ).toContain('BearerTokenLogonResponse');
    expect(await bearerLogon(await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('admin').sign(key))).toContain('XSV-350008');
    expect(
      await bearerLogon(await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('admin').setIssuedAt().setExpirationTime('30d').sign(key)),
    ).toContain('XSV-350008');
    expect(
      await bearerLogon(await new SignJWT({}).setProtectedHeader({ alg: 'HS512' }).setSubject('admin').setIssuedAt().setExpirationTime('5m').sign(key)),
    ).toContain('XSV-350008');
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'admin', exp: Math.floor(Date.now() / 1000) + 60 })).toString('base64url')}.`;
    expect(await bearerLogon(unsigned)).toContain('XSV-350008');
  });

  it('when an operator loses a right or is disabled, then its open sessions on every replica see it within a second', async () => {
    const admin = await sdkLogon(url, 'admin', 'admin');
    const login = await createOperator(admin, 'messageCenter,workflow');
    const onFirst = await sdkLogon(url, login, 'mc');
    // The same session used through the second replica.
    const onSecond = await sdk.init(sdk.ConnectionParameters.ofSessionAndSecurityToken(secondGateway, onFirst._sessionToken, onFirst._securityToken));
    await onSecond.logon();
    const rightsOf = async (client: { NLWS: { xtkSession: { getUserInfo(): Promise<unknown> } } }) =>
      JSON.stringify(await client.NLWS.xtkSession.getUserInfo());
    expect(await rightsOf(onFirst)).toContain('workflow');
    expect(await rightsOf(onSecond)).toContain('workflow');

    await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:operator', _key: '@name', name: login, rights: 'messageCenter' });
    const changed = Date.now();
    await waitFor(
      'the right removed on both replicas',
      async () => !(await rightsOf(onFirst)).includes('workflow') && !(await rightsOf(onSecond)).includes('workflow'),
      { timeoutMs: 5_000, intervalMs: 50 },
    );
    expect(Date.now() - changed).toBeLessThan(1_000);

    await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:operator', _key: '@name', name: login, disabled: 'true' });
    const disabled = Date.now();
    // The SDK reports a session Campaign ends (XSV-350008) as HTTP 401.
    await waitFor('the session refused on the second replica', async () => (await failure(onSecond.NLWS.xtkSession.getUserInfo())).statusCode === 401, {
      timeoutMs: 5_000,
      intervalMs: 50,
    });
    expect(Date.now() - disabled).toBeLessThan(1_000);
    expect((await failure(onFirst.NLWS.xtkSession.getUserInfo())).statusCode).toBe(401);
    // A login/password token of that operator stops working too.
    const token = await sdkSessionLogon(url, `${login}/mc`);
    expect((await failure(token.NLWS.xtkSession.getUserInfo())).statusCode).toBe(401);
  });

  // Last: it locks the test's own address.
  it('when a client sends X-Forwarded-For without being a configured proxy, then its own address is counted', async () => {
    // Many addresses claimed from one client: all count against the one real address, which gets locked.
    const login = uniqueId('ghost');
    const statuses: number[] = [];
    for (let i = 0; i < 70; i++) {
      const res = await logonCall(url, `${login}${i}`, 'nope', { 'X-Forwarded-For': `203.0.113.${i}` });
      statuses.push(res.status);
      await res.text();
    }
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(10);
  });
});
