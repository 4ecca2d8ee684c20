import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@cap/platform-config';
import { loadGatewayConfig } from './config';

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadGatewayConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
};

describe('the gateway configuration: secrets keys', () => {
  it('when nothing is set outside production, then the development key ring is used', () => {
    const config = loadGatewayConfig({});
    expect(config.secretKeys.development).toBe(true);
    expect(config.secretKeys.current.id).toBe('dev');
  });

  it('when SECRETS_KEYS lists keys, then the first encrypts and all decrypt', () => {
    const config = loadGatewayConfig({
      NODE_ENV: 'production',
      SECRETS_KEYS: `b:${randomBytes(32).toString('base64')},a:${randomBytes(32).toString('base64')}`,
    });
    expect(config.secretKeys.current.id).toBe('b');
    expect([...config.secretKeys.byId.keys()]).toEqual(['b', 'a']);
  });

  it('when SECRETS_KEYS_FILE names a key file, then its keys are read; an unreadable file is named', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cap-keys-')), 'keys');
    writeFileSync(file, `# current first\nnew:${randomBytes(32).toString('base64')}\nold:${randomBytes(32).toString('base64')}\n`);
    expect(loadGatewayConfig({ NODE_ENV: 'production', SECRETS_KEYS_FILE: file }).secretKeys.current.id).toBe('new');
    expect(problemsOf({ SECRETS_KEYS_FILE: `${file}.missing` })).toEqual([`SECRETS_KEYS_FILE=${JSON.stringify(`${file}.missing`)}: cannot be read (ENOENT)`]);
  });

  it('when production has no key, or a key is bad, then the start is refused naming the setting and never the key', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toEqual([expect.stringMatching(/^SECRETS_KEYS: required when NODE_ENV=production/)]);
    const short = randomBytes(8).toString('base64');
    const problems = problemsOf({ SECRETS_KEYS: `k1:${short}` });
    expect(problems).toEqual(['SECRETS_KEYS: entry 1 (key id "k1"): the key is 8 bytes; AES-256 takes 32 (openssl rand -base64 32)']);
    expect(problems.join()).not.toContain(short);
  });
});

describe('the gateway configuration: OpenID Connect token logon', () => {
  const oidc = { OIDC_ISSUER: 'https://issuer.example.test/', OIDC_AUDIENCE: 'campaign', OIDC_JWKS_URL: 'https://issuer.example.test/jwks' };

  it('when nothing is set, then it is off; when an issuer is set, then the defaults apply', () => {
    expect(loadGatewayConfig({}).OIDC_ISSUER).toBe('');
    const config = loadGatewayConfig(oidc);
    expect(config.OIDC_ALGORITHMS).toEqual(['RS256', 'ES256']);
    expect(config.OIDC_LOGIN_CLAIM).toBe('sub');
    expect(config.oidcJwks).toBeUndefined();
  });

  it('when none, an HMAC algorithm or an unknown one is allowed, then the start is refused', () => {
    for (const algorithms of ['none', 'HS256', 'RS256,HS512', 'RS1', ','])
      expect([algorithms, problemsOf({ ...oidc, OIDC_ALGORITHMS: algorithms }).join()]).toEqual([algorithms, expect.stringMatching(/^OIDC_ALGORITHMS/)]);
  });

  it('when the audience or the key source is missing, doubled or not http(s), or keys are set without an issuer, then each problem is named', () => {
    expect(problemsOf({ ...oidc, OIDC_AUDIENCE: '' })).toEqual(['OIDC_AUDIENCE: required with OIDC_ISSUER']);
    expect(problemsOf({ ...oidc, OIDC_JWKS_URL: '' })).toEqual(['OIDC_JWKS_URL, OIDC_JWKS_FILE: exactly one is required with OIDC_ISSUER']);
    expect(problemsOf({ ...oidc, OIDC_JWKS_FILE: '/x' })).toContain('OIDC_JWKS_URL, OIDC_JWKS_FILE: exactly one is required with OIDC_ISSUER');
    expect(problemsOf({ ...oidc, OIDC_JWKS_URL: 'file:///etc/passwd' })).toEqual(['OIDC_JWKS_URL="file:///etc/passwd": expected an http or https URL']);
    expect(problemsOf({ OIDC_JWKS_URL: oidc.OIDC_JWKS_URL })).toEqual([
      'OIDC_JWKS_URL: set without OIDC_ISSUER (token logon through an OpenID Connect issuer needs it)',
    ]);
  });

  it('when the keys come from a file, then it is read at start; an unreadable or invalid file is named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cap-jwks-'));
    const good = join(dir, 'jwks.json');
    writeFileSync(
      good,
      JSON.stringify({
        keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', kid: 'k1' }],
      }),
    );
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"keys": {}}');
    const file = { ...oidc, OIDC_JWKS_URL: '' };
    expect(loadGatewayConfig({ ...file, OIDC_JWKS_FILE: good }).oidcJwks?.keys).toHaveLength(1);
    expect(problemsOf({ ...file, OIDC_JWKS_FILE: bad })).toEqual([`OIDC_JWKS_FILE=${JSON.stringify(bad)}: not a JSON Web Key Set (no "keys" list)`]);
    expect(problemsOf({ ...file, OIDC_JWKS_FILE: `${good}.missing` })).toEqual([
      `OIDC_JWKS_FILE=${JSON.stringify(`${good}.missing`)}: cannot be read (ENOENT)`,
    ]);
  });
});
