import { createLocalJWKSet, exportJWK, exportSPKI, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import type { SoapFault } from '@cap/campaign-soap';
import { appError, ErrorCatalogue } from '@cap/platform-errors';
import { createAuthenticator, MAX_BEARER_TOKEN_CHARS } from './authenticator';
import type { AuthThrottle } from './auth.throttle';
import type { OperatorDirectory } from './operator.directory';
import type { Operator } from './session.model';
import type { SessionStore } from './session.store';

const SECRET = 'development-secret-0123456789abcdef';
const ISSUER = 'https://issuer.example.test/';
const origin = { ip: '127.0.0.1', headers: {} };

const operator = (login: string): Operator => ({ id: `id-${login}`, login, label: login, rights: [], timezone: 'UTC' });

/** An authenticator with the development HMAC secret and an OpenID Connect issuer both configured, over fakes. */
async function setup() {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  const failures: string[] = [];
  const throttle: AuthThrottle = { check: async () => undefined, failed: async (_l, _a, via) => void failures.push(via), succeeded: async () => undefined };
  const operators = {
    get: async (login: string) => {
      if (login === 'admin' || login === 'op') return operator(login);
      throw appError(ErrorCatalogue.LOGON_REFUSED, {});
    },
  } as unknown as OperatorDirectory;
  const authenticator = createAuthenticator({
    sessions: {} as SessionStore,
    operators,
    throttle,
    allowSessionTokenOnly: true,
    loginTokenCacheMs: 1_000,
    jwt: { key: new TextEncoder().encode(SECRET), options: { algorithms: ['HS256'] }, maxLifetimeMs: 3_600_000 },
    oidc: {
      keys: createLocalJWKSet({ keys: [jwk] }),
      options: { algorithms: ['ES256'], issuer: ISSUER, audience: 'campaign', clockTolerance: 5 },
      loginClaim: 'preferred_username',
      maxLifetimeMs: 3_600_000,
    },
  });
  const oidcToken = (claims: Record<string, unknown>, key: KeyLike = privateKey) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience('campaign')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);
  const hmacToken = (sub: string, secret: Uint8Array = new TextEncoder().encode(SECRET)) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setSubject(sub)
      .setIssuer(ISSUER)
      .setAudience('campaign')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(secret);
  const loginOf = async (token: string) => {
    try {
      return (await authenticator.verifyBearer(token, origin)).login;
    } catch (err) {
      return (err as SoapFault).message.slice(0, 10);
    }
  };
  return { authenticator, publicKey, oidcToken, hmacToken, loginOf, failures };
}

describe('bearer tokens with the development secret and an OpenID Connect issuer together', () => {
  let fixture: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    fixture = await setup();
  });
  beforeEach(() => {
    fixture.failures.length = 0;
  });

  it('when a token is HS256 with the secret, then its subject logs on; when ES256 from the issuer, then its login claim does', async () => {
    const { hmacToken, oidcToken, loginOf } = fixture;
    expect(await loginOf(await hmacToken('admin'))).toBe('admin');
    expect(await loginOf(await oidcToken({ sub: 'admin', preferred_username: 'op' }))).toBe('op');
  });

  it('when an HS256 token is signed with the issuer public key, then it is refused and counted as a bearer failure', async () => {
    const { hmacToken, loginOf, publicKey, failures } = fixture;
    const confused = await hmacToken('admin', new TextEncoder().encode(await exportSPKI(publicKey)));
    expect(await loginOf(confused)).toMatch(/^XSV-350008/);
    expect(failures).toEqual(['bearer']);
  });

  it('when a token is oversized, names an unknown operator, or carries a non-string or over-long login claim, then it is refused', async () => {
    const { oidcToken, loginOf } = fixture;
    const big = await oidcToken({ preferred_username: 'op', padding: 'x'.repeat(MAX_BEARER_TOKEN_CHARS) });
    expect(await loginOf(big)).toMatch(/^XSV-350008/);
    expect(await loginOf(await oidcToken({ preferred_username: 'ghost' }))).toMatch(/^XSV-350008/);
    expect(await loginOf(await oidcToken({ preferred_username: ['op'] }))).toMatch(/^XSV-350008/);
    expect(await loginOf(await oidcToken({ preferred_username: 'o'.repeat(129) }))).toMatch(/^XSV-350008/);
  });
});
