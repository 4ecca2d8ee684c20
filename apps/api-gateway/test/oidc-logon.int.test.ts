import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';
import { failure, sdkLogon, startTestPlatform, uniqueId, waitFor, type SdkClient, type TestPlatform } from '@cap/platform-testing';

// Adobe's own client, unmodified.
const sdk = require('@adobe/acc-js-sdk');

const ROUTER = '/nl/jsp/soaprouter.jsp';
const ISSUER = 'https://ims.example.test/';
const AUDIENCE = 'campaign-api';
const COOLDOWN_MS = 1_000;
const JWKS_TIMEOUT_MS = 2_000;

type JwksMode = 'ok' | 'slow' | 'down' | 'huge' | 'garbage';

/**
 * A tiny OpenID Connect issuer for the test: it serves its JSON Web Key Set on /jwks and can be made slow, down,
 * oversized or unreadable; it counts the fetches it answers.
 */
async function startJwksServer() {
  const state = { mode: 'ok' as JwksMode, keys: [] as JWK[], fetches: 0 };
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    if (req.url !== '/jwks') {
      res.writeHead(404).end();
      return;
    }
    state.fetches++;
    switch (state.mode) {
      case 'ok':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
        return;
      case 'slow': // headers at once, then a trickle that never ends
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"keys":[');
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      case 'down':
        res.writeHead(503).end('unavailable');
        return;
      case 'huge':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys, padding: 'x'.repeat(2 * 1024 * 1024) }));
        return;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": "not a list"}');
        return;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    state,
    url: `http://127.0.0.1:${port}/jwks`,
    async stop() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: KeyLike;
  publicKey: KeyLike;
  jwk: JWK;
}

async function newKey(alg: 'RS256' | 'ES256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = uniqueId('kid');
  return { kid, alg, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

interface TokenOptions {
  key: SigningKey;
  claims?: Record<string, unknown>;
  issuer?: string;
  audience?: string;
  kid?: string;
  /** Seconds from now. */
  expiresIn?: number;
  notBefore?: number;
  issuedAt?: number;
}

async function tokenFor(login: string, o: TokenOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ preferred_username: login, ...o.claims })
    .setProtectedHeader({ alg: o.key.alg, kid: o.kid ?? o.key.kid, typ: 'JWT' })
    .setSubject(uniqueId('subject'))
    .setIssuer(o.issuer ?? ISSUER)
    .setAudience(o.audience ?? AUDIENCE)
    .setIssuedAt(now + (o.issuedAt ?? 0))
    .setNotBefore(now + (o.notBefore ?? 0))
    .setExpirationTime(now + (o.expiresIn ?? 600))
    .sign(o.key.privateKey);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Token logon through an OpenID Connect issuer (docs/security.md#token-logon), against the real gateway,
 * local-store, Redis and Kafka, with a local JWKS server: the unmodified SDK logs on with ofImsBearerToken
 * (Authorization: Bearer on every call) and ofBearerToken (xtk:session#BearerTokenLogon, then session tokens);
 * the operator named by the configured claim gets its own rights; every forged, stale, misdirected or oversized
 * token is refused with XSV-350008; an issuer whose keys cannot be read gives XSV-350200 within a bounded time
 * while the gateway stays up.
 */
describe('token logon through an OpenID Connect issuer', () => {
  let platform: TestPlatform;
  let url: string;
  let jwks: Awaited<ReturnType<typeof startJwksServer>>;
  let dir: string;
  let rsa: SigningKey;
  let ec: SigningKey;
  let admin: SdkClient;

  const soap = async (method: string, inner: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${url}${ROUTER}`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml', SOAPAction: `xtk:session#${method}`, ...headers },
      body: `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><m:${method} xmlns:m="urn:xtk:session">${inner}</m:${method}></SOAP-ENV:Body></SOAP-ENV:Envelope>`,
    });
    return { status: res.status, text: await res.text() };
  };
  const bearerLogon = (token: string) => soap('BearerTokenLogon', `<sessiontoken/><bearerToken>${token}</bearerToken>`);
  const perCall = (token: string) => soap('GetUserInfo', '<sessiontoken/>', { Authorization: `Bearer ${token}` });
  const codeOf = (text: string) => /<faultstring[^>]*>\s*([A-Z]{3}-\d{6})/.exec(text)?.[1] ?? (text.includes('Response') ? 'ok' : text.slice(0, 200));
  const createOperator = async (rights: string) => {
    const login = uniqueId('oidc').replace(/-/g, '_');
    await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:operator', name: login, label: login, rights });
    return login;
  };

  beforeAll(async () => {
    jwks = await startJwksServer();
    [rsa, ec] = await Promise.all([newKey('RS256'), newKey('ES256')]);
    jwks.state.keys = [rsa.jwk, ec.jwk];
    dir = mkdtempSync(join(tmpdir(), 'cap-oidc-'));
    const limits = join(dir, 'limits.json');
    writeFileSync(limits, JSON.stringify({ default: { limit: 100_000 }, apis: { 'xtk:session#BearerTokenLogon': { limit: 100_000 } } }));
    platform = await startTestPlatform({
      apps: ['local-store', 'api-gateway'],
      envFor: {
        'api-gateway': {
          RATE_LIMITS_FILE: limits,
          AUTH_FAIL_ADDRESS_THRESHOLD: '100000',
          AUTH_FAIL_LOGIN_THRESHOLD: '100000',
          OIDC_ISSUER: ISSUER,
          OIDC_AUDIENCE: AUDIENCE,
          OIDC_JWKS_URL: jwks.url,
          OIDC_ALGORITHMS: 'RS256,ES256',
          OIDC_LOGIN_CLAIM: 'preferred_username',
          OIDC_CLOCK_SKEW_MS: '5000',
          OIDC_JWKS_TIMEOUT_MS: String(JWKS_TIMEOUT_MS),
          OIDC_JWKS_REFRESH_COOLDOWN_MS: String(COOLDOWN_MS),
          JWT_MAX_LIFETIME_MS: '3600000',
        },
      },
    });
    url = platform.gatewayUrl;
    admin = await sdkLogon(url, 'admin', 'admin');
  });

  // A test that fails half-way leaves the issuer answering.
  afterEach(() => {
    jwks.state.mode = 'ok';
  });

  afterAll(async () => {
    await platform?.stop();
    await jwks?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // First: the gateway has no key yet.
  it('when the issuer is slow, down, oversized or unreadable, then logon answers XSV-350200 within a bounded time and the gateway stays up', async () => {
    // The gateway has read no key yet (this test runs first), and the issuer is slow.
    jwks.state.mode = 'slow';
    const token = await tokenFor('admin', { key: rsa });
    const timed = async () => {
      const started = Date.now();
      const answer = await bearerLogon(token);
      return { code: codeOf(answer.text), ms: Date.now() - started, text: answer.text };
    };
    const slow = await timed();
    expect(slow.code).toBe('XSV-350200');
    expect(slow.text).toContain(`no answer within ${JWKS_TIMEOUT_MS} ms`);
    expect(slow.ms).toBeLessThan(JWKS_TIMEOUT_MS + 3_000);

    // Within the cooldown a second logon does not wait again: it gets the same fault at once.
    const again = await timed();
    expect(again.code).toBe('XSV-350200');
    expect(again.ms).toBeLessThan(JWKS_TIMEOUT_MS);

    for (const [mode, why] of [
      ['down', /HTTP 503/],
      ['huge', /over 65536 bytes/],
      ['garbage', /not a JSON Web Key Set/],
    ] as const) {
      jwks.state.mode = mode;
      await waitFor(`the ${mode} issuer read again`, async () => why.test((await timed()).text), { timeoutMs: 10_000, intervalMs: 200 });
      const answer = await timed();
      expect(answer.code).toBe('XSV-350200');
      expect(answer.ms).toBeLessThan(JWKS_TIMEOUT_MS + 3_000);
      // Nothing internal in the fault: no URL, no stack.
      expect(answer.text).not.toMatch(/127\.0\.0\.1|\/jwks|at .*\.js/);
    }
    // Per-call bearer tokens get the same answer; the gateway still serves everything else.
    expect(codeOf((await perCall(token)).text)).toBe('XSV-350200');
    expect((await fetch(`${url}/r/test`)).status).toBe(200);
    expect(await admin.NLWS.xtkSession.getServerTime()).toBeTruthy();

    jwks.state.mode = 'ok';
    await waitFor('the issuer read once it is back', async () => codeOf((await bearerLogon(token)).text) === 'ok', { timeoutMs: 10_000, intervalMs: 200 });
  });

  it('when an operator logs on with ofImsBearerToken, then every call carries the token and it acts with its own rights', async () => {
    const login = await createOperator('messageCenter');
    const client = await sdk.init(sdk.ConnectionParameters.ofImsBearerToken(url, await tokenFor(login, { key: rsa })));
    await client.logon();
    expect(client.isLogged()).toBe(true);
    const info = JSON.stringify(await client.NLWS.xtkSession.getUserInfo());
    expect(info).toContain(login);
    // A query runs as that operator …
    const found = await client.NLWS.xtkQueryDef
      .create({ schema: 'xtk:operator', operation: 'select', select: { node: { expr: '@name' } }, where: { condition: { expr: `@name = '${login}'` } } })
      .executeQuery();
    expect(JSON.stringify(found)).toContain(login);
    // … and what needs admin stays refused.
    expect((await failure(client.NLWS.xtkSession.write({ xtkschema: 'xtk:option', name: uniqueId('opt'), stringValue: 'x' }))).errorCode).toBe('XSV-350013');
    // An ES256 key of the same issuer works too; with sessionInfo the SDK reads the operator at logon (GetUserInfo, /r/test).
    const viaEc = await sdk.init(sdk.ConnectionParameters.ofImsBearerToken(url, await tokenFor(login, { key: ec }), { sessionInfo: true }));
    await viaEc.logon();
    expect(viaEc.application.operator.login).toBe(login);
    expect(JSON.stringify(await viaEc.NLWS.xtkSession.getUserInfo())).toContain(login);
  });

  it('when an operator logs on with ofBearerToken, then BearerTokenLogon opens a session of that operator', async () => {
    const login = await createOperator('messageCenter');
    const client = await sdk.init(sdk.ConnectionParameters.ofBearerToken(url, await tokenFor(login, { key: rsa })));
    await client.logon();
    expect(client._sessionToken).toMatch(/^___/);
    expect(client.application.operator.login).toBe(login);
    const found = await client.NLWS.xtkQueryDef
      .create({ schema: 'xtk:operator', operation: 'select', select: { node: { expr: '@name' } }, where: { condition: { expr: `@name = '${login}'` } } })
      .executeQuery();
    expect(JSON.stringify(found)).toContain(login);
    await client.logoff();
  });

  it('when the login claim is what identifies the operator, then the subject does not, and a token without that claim is refused', async () => {
    const login = await createOperator('messageCenter');
    // The subject says admin; the configured claim (preferred_username) says the operator: the operator it is.
    const token = await new SignJWT({ preferred_username: login })
      .setProtectedHeader({ alg: 'RS256', kid: rsa.kid })
      .setSubject('admin')
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(rsa.privateKey);
    const client = await sdk.init(sdk.ConnectionParameters.ofImsBearerToken(url, token));
    await client.logon();
    expect(JSON.stringify(await client.NLWS.xtkSession.getUserInfo())).toContain(login);
    expect(JSON.stringify(await client.NLWS.xtkSession.getUserInfo())).not.toContain('"admin"');
    const noClaim = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: rsa.kid })
      .setSubject('admin')
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(rsa.privateKey);
    expect(codeOf((await bearerLogon(noClaim)).text)).toBe('XSV-350008');
    const numeric = await tokenFor('x', { key: rsa, claims: { preferred_username: 42 } });
    expect(codeOf((await bearerLogon(numeric)).text)).toBe('XSV-350008');
  });

  it('when a token is expired, not yet valid, for another audience or issuer, of an unknown operator, or too long-lived, then it is refused with XSV-350008 both ways', async () => {
    const login = await createOperator('messageCenter');
    const cases: Array<[string, string]> = [
      ['expired', await tokenFor(login, { key: rsa, issuedAt: -600, notBefore: -600, expiresIn: -60 })],
      ['not yet valid', await tokenFor(login, { key: rsa, notBefore: 120 })],
      ['another audience', await tokenFor(login, { key: rsa, audience: 'someone-else' })],
      ['another issuer', await tokenFor(login, { key: rsa, issuer: 'https://evil.example.test/' })],
      ['an unknown operator', await tokenFor('ghost_operator_nobody', { key: rsa })],
      ['a lifetime over JWT_MAX_LIFETIME_MS', await tokenFor(login, { key: rsa, expiresIn: 2 * 3600 })],
      [
        'no expiry',
        await new SignJWT({ preferred_username: login })
          .setProtectedHeader({ alg: 'RS256', kid: rsa.kid })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .sign(rsa.privateKey),
      ],
      ['malformed', 'not.a.token'],
    ];
    for (const [label, token] of cases) {
      expect([label, codeOf((await bearerLogon(token)).text)]).toEqual([label, 'XSV-350008']);
      expect([label, codeOf((await perCall(token)).text)]).toEqual([label, 'XSV-350008']);
    }
    // Within the clock skew (5 s) a token just expired or just valid is still taken.
    expect(codeOf((await bearerLogon(await tokenFor(login, { key: rsa, issuedAt: -60, expiresIn: -2 }))).text)).toBe('ok');
    expect(codeOf((await bearerLogon(await tokenFor(login, { key: rsa, notBefore: 2 }))).text)).toBe('ok');
    // The SDK reports the refusal as a 401.
    const expired = await sdk.init(sdk.ConnectionParameters.ofImsBearerToken(url, cases[0]![1]));
    await expired.logon();
    expect((await failure(expired.NLWS.xtkSession.getUserInfo())).statusCode).toBe(401);
    const viaLogon = await sdk.init(sdk.ConnectionParameters.ofBearerToken(url, cases[2]![1]));
    expect((await failure(viaLogon.logon())).statusCode).toBe(401);
  });

  it('when a token is unsigned, HMAC-signed with the public key, signed by a stranger or oversized, then it is refused with XSV-350008', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { preferred_username: 'admin', iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 300 };
    const stranger = await newKey('RS256');
    // Algorithm confusion: the issuer's public key (PEM, and its JWK's modulus) used as an HMAC secret.
    const pem = await exportSPKI(rsa.publicKey);
    const confused = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: rsa.kid }).sign(new TextEncoder().encode(pem));
    const confusedJwk = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: rsa.kid }).sign(Buffer.from(rsa.jwk.n!, 'base64url'));
    const cases: Array<[string, string]> = [
      ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`],
      ['alg none with a kid', `${b64({ alg: 'none', kid: rsa.kid })}.${b64(claims)}.`],
      ['HS256 with the PEM public key', confused],
      ['HS256 with the JWK modulus', confusedJwk],
      ['a stranger key under a known kid', await tokenFor('admin', { key: stranger, kid: rsa.kid })],
      ['an RS256 header over an ES256 key', await tokenFor('admin', { key: rsa, kid: ec.kid })],
      ['a forged signature', (await tokenFor('admin', { key: rsa })).replace(/\.[^.]+$/, `.${Buffer.alloc(256, 7).toString('base64url')}`)],
    ];
    for (const [label, token] of cases) {
      expect([label, codeOf((await bearerLogon(token)).text)]).toEqual([label, 'XSV-350008']);
      expect([label, codeOf((await perCall(token)).text)]).toEqual([label, 'XSV-350008']);
    }
    // An oversized token (a genuine signature over 20 KB of claims) is refused before it is parsed, at once.
    const big = await tokenFor('admin', { key: rsa, claims: { padding: 'x'.repeat(20_000) } });
    const started = Date.now();
    expect(codeOf((await bearerLogon(big)).text)).toBe('XSV-350008');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('when the issuer rotates to a new key, then a token of the new kid is accepted after a refresh, and a burst of unknown kids fetches the keys at most once per cooldown', async () => {
    const login = await createOperator('messageCenter');
    const next = await newKey('RS256');
    const rotated = await tokenFor(login, { key: next });
    jwks.state.keys = [rsa.jwk, ec.jwk, next.jwk];
    await waitFor('the new key accepted', async () => codeOf((await bearerLogon(rotated)).text) === 'ok', { timeoutMs: 5 * COOLDOWN_MS, intervalMs: 100 });
    const client = await sdk.init(sdk.ConnectionParameters.ofImsBearerToken(url, rotated));
    await client.logon();
    expect(JSON.stringify(await client.NLWS.xtkSession.getUserInfo())).toContain(login);

    // A burst of tokens naming unknown kids: refused, and the issuer is asked at most once per cooldown.
    const before = jwks.state.fetches;
    const started = Date.now();
    const unknown = await Promise.all(Array.from({ length: 30 }, () => tokenFor(login, { key: next, kid: uniqueId('unknown-kid') })));
    const answers = await Promise.all(unknown.map(async (t) => codeOf((await bearerLogon(t)).text)));
    const elapsed = Date.now() - started;
    expect(new Set(answers)).toEqual(new Set(['XSV-350008']));
    expect(jwks.state.fetches - before).toBeLessThanOrEqual(1 + Math.ceil(elapsed / COOLDOWN_MS));

    // The old key removed by the issuer: once the keys are read again, its tokens are refused.
    jwks.state.keys = [next.jwk];
    const old = await tokenFor(login, { key: ec });
    const retired = await newKey('RS256');
    await waitFor(
      'the retired key refused after a refresh',
      async () => {
        // An unknown kid makes the gateway read the keys again (once the cooldown has passed).
        await bearerLogon(await tokenFor(login, { key: retired }));
        return codeOf((await bearerLogon(old)).text) === 'XSV-350008';
      },
      { timeoutMs: 5 * COOLDOWN_MS, intervalMs: 200 },
    );
    // The issuer down now: the keys last read still verify the new kid.
    jwks.state.mode = 'down';
    expect(codeOf((await bearerLogon(rotated)).text)).toBe('ok');
    jwks.state.mode = 'ok';
    // The issuer's first keys back, for the tests after this one.
    jwks.state.keys = [rsa.jwk, ec.jwk, next.jwk];
    const first = await tokenFor(login, { key: rsa });
    await waitFor('the first key accepted again', async () => codeOf((await bearerLogon(first)).text) === 'ok', {
      timeoutMs: 5 * COOLDOWN_MS,
      intervalMs: 200,
    });
  });

  it('when the operator of a valid token is disabled, then its tokens are refused, also on a connection already logged on', async () => {
    const login = await createOperator('messageCenter');
    const client = await sdk.init(sdk.ConnectionParameters.ofImsBearerToken(url, await tokenFor(login, { key: rsa })));
    await client.logon();
    expect(JSON.stringify(await client.NLWS.xtkSession.getUserInfo())).toContain(login);
    await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:operator', _key: '@name', name: login, disabled: 'true' });
    await waitFor('the disabled operator refused', async () => (await failure(client.NLWS.xtkSession.getUserInfo())).statusCode === 401, {
      timeoutMs: 5_000,
      intervalMs: 50,
    });
    expect(codeOf((await bearerLogon(await tokenFor(login, { key: rsa }))).text)).toBe('XSV-350008');
  });

  it('when the keys come from a file, then a gateway verifies tokens with them without any fetch', async () => {
    const file = join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [ec.jwk] }));
    const replica = await platform.startReplica('api-gateway', { OIDC_JWKS_URL: '', OIDC_JWKS_FILE: file });
    await replica.waitUntilReady();
    const before = jwks.state.fetches;
    const login = await createOperator('messageCenter');
    const client = await sdk.init(sdk.ConnectionParameters.ofImsBearerToken(replica.url, await tokenFor(login, { key: ec })));
    await client.logon();
    expect(JSON.stringify(await client.NLWS.xtkSession.getUserInfo())).toContain(login);
    // A key that is not in the file (the issuer's RSA key) is refused.
    const other = await sdk.init(sdk.ConnectionParameters.ofImsBearerToken(replica.url, await tokenFor(login, { key: rsa })));
    await other.logon();
    expect((await failure(other.NLWS.xtkSession.getUserInfo())).statusCode).toBe(401);
    expect(jwks.state.fetches).toBe(before);
    await replica.stop();
  });
});
