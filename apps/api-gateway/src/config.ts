import { readFileSync } from 'node:fs';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { z } from 'zod';
import { DEFAULT_XML_LIMITS } from '@cap/campaign-xml';
import { ConfigError, field, loadConfig, serviceConfigShape } from '@cap/platform-config';
import { resolveSecretKeys, type SecretKeyRing } from '@cap/platform-secrets';
import { whyNotJwks } from './session/oidc.jwks';

const DAY_MS = 86_400_000;

/** Asymmetric JWS algorithms accepted for OpenID Connect tokens. */
const OIDC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

const shape = {
  // Event-loop delay sampled every 10 ms: S9's stall bound is read from it (apps/api-gateway/test/xml-bombs.int.test.ts).
  ...serviceConfigShape({ httpPort: 8080, eventLoopResolutionMs: 10 }),
  REDIS_URL: field.url(['redis', 'rediss'], 'redis://127.0.0.1:6379/0'),
  /** Prefix of every Redis key the gateway writes (sessions, rate-limit windows). */
  REDIS_KEY_PREFIX: field.keyPrefix('cap:'),
  /** Deadline of a request/reply call to local-store or cloud-executor (the SDK itself gives up at 5 s). */
  RPC_TIMEOUT_MS: field.durationMs(3_000),
  /** Deadline of installing an authored source schema (compile, DDL of both databases: docs/schema-authoring.md). */
  SCHEMA_INSTALL_TIMEOUT_MS: field.durationMs(60_000),
  /** Circuit breaker per downstream service: open after this share of failures … */
  BREAKER_ERROR_THRESHOLD_PERCENT: field.positiveInt(50),
  /** … once at least this many calls were made in the rolling window … */
  BREAKER_VOLUME_THRESHOLD: field.positiveInt(5),
  /** … and let a probe through after this long. */
  BREAKER_RESET_TIMEOUT_MS: field.durationMs(5_000),
  /** Session lifetime (Campaign: sessionTimeOutSec, 24 h) and with rememberMe (longSessionTimeOutSec, 15 days). */
  SESSION_TTL_MS: field.durationMs(DAY_MS),
  LONG_SESSION_TTL_MS: field.positiveInt(15 * DAY_MS),
  /**
   * Sessions read from Redis are kept in memory (server-assisted client-side caching: Redis invalidates a copy
   * when the session is logged off or expires, on whichever replica): at most this many; 0 = read Redis on
   * every call. A copy is dropped at the latest after SESSION_CACHE_TTL_MS, or when the connection drops.
   */
  SESSION_CACHE_ENTRIES: field.nonNegativeInt(10_000),
  SESSION_CACHE_TTL_MS: field.durationMs(60_000),
  /** Accept a session token presented without its security token (the SDK's ofSessionToken). */
  ALLOW_SESSION_TOKEN_ONLY: field.boolean(true),
  /** How long a verified "login/password" session token is trusted before local-store checks it again. */
  LOGIN_TOKEN_CACHE_MS: field.durationMs(60_000),
  /** Bearer JWTs (BearerTokenLogon, Authorization: Bearer): HMAC secret; empty disables bearer logon. */
  JWT_SECRET: field.string(''),
  JWT_ISSUER: field.string(''),
  JWT_AUDIENCE: field.string(''),
  /** Algorithms a bearer JWT may be signed with (HMAC only: the key is a shared secret); `none` never. */
  JWT_ALGORITHMS: field
    .string('HS256')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .refine((list) => list.length > 0 && list.every((a) => a === 'HS256' || a === 'HS384' || a === 'HS512'), {
      message: 'expected HS256, HS384 and/or HS512, comma-separated',
    }),
  /** Longest lifetime of a bearer JWT (exp − iat, and exp − now); a token without exp is refused. */
  JWT_MAX_LIFETIME_MS: field.durationMs(DAY_MS),
  /**
   * Token logon through an OpenID Connect issuer (IMS-style, docs/security.md#token-logon): the `iss` its tokens must
   * carry; empty turns it off. With it: OIDC_AUDIENCE, and OIDC_JWKS_URL or OIDC_JWKS_FILE.
   */
  OIDC_ISSUER: field.string(''),
  /** The `aud` its tokens must carry (this platform's client id at the issuer). */
  OIDC_AUDIENCE: field.string(''),
  /** Where the issuer's JSON Web Key Set is fetched (http or https) … */
  OIDC_JWKS_URL: field.string(''),
  /** … or a file holding it (read once at start). */
  OIDC_JWKS_FILE: field.string(''),
  /** Algorithms its tokens may be signed with: asymmetric only (never `none` or HS*: the keys are public). */
  OIDC_ALGORITHMS: field
    .string('RS256,ES256')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .refine((list) => list.length > 0 && list.every((a) => OIDC_ALGORITHMS.includes(a)), {
      message: `expected some of ${OIDC_ALGORITHMS.join(', ')}, comma-separated`,
    }),
  /** The claim whose value is the operator's login (a string); an operator unknown or disabled is refused. */
  OIDC_LOGIN_CLAIM: field.string('sub').refine((v) => v.length > 0 && v.length <= 256, { message: 'expected a claim name (1 to 256 characters)' }),
  /** Clock difference tolerated on exp and nbf. */
  OIDC_CLOCK_SKEW_MS: field.nonNegativeInt(30_000).refine((ms) => ms <= 600_000, { message: 'at most 600000 (10 min)' }),
  /** Budget of one key-set fetch, body included. */
  OIDC_JWKS_TIMEOUT_MS: field.durationMs(2_000),
  /** Largest key set read. */
  OIDC_JWKS_MAX_BYTES: field.positiveInt(65_536),
  /** Least time between two fetches (a token naming an unknown kid reads the set again at most this often). */
  OIDC_JWKS_REFRESH_COOLDOWN_MS: field.durationMs(30_000),
  /** Keys older than this are read again before use. */
  OIDC_JWKS_MAX_AGE_MS: field.durationMs(600_000),
  /** Proxies whose X-Forwarded-For gives the client address (IPs, CIDRs, loopback…); empty: the TCP peer is the client. */
  TRUST_PROXY: field.trustedProxies(''),
  /** Failed authentications (wrong password, login/password token, Basic, bearer) on one login before it is locked … */
  AUTH_FAIL_LOGIN_THRESHOLD: field.positiveInt(10),
  /** … and from one client address. */
  AUTH_FAIL_ADDRESS_THRESHOLD: field.positiveInt(30),
  /** How long failures are remembered after the last one. */
  AUTH_FAIL_WINDOW_MS: field.durationMs(900_000),
  /** First lock once a threshold is reached; every further failure doubles it … */
  AUTH_LOCK_BASE_MS: field.durationMs(1_000),
  /** … up to this. */
  AUTH_LOCK_MAX_MS: field.durationMs(900_000),
  /** How long an operator's state this gateway reads from local-store (when Redis has none) is kept in Redis. */
  OPERATOR_STATE_TTL_MS: field.durationMs(3_600_000),
  /** Largest SOAP request body accepted (413 beyond). */
  MAX_BODY_BYTES: field.positiveInt(8 * 1024 * 1024),
  /** Deepest XML nesting accepted in a request. */
  XML_MAX_DEPTH: field.positiveInt(64),
  /**
   * What one request's XML may hold, checked while it is parsed (the first breach stops the parse with a
   * SOAP_MALFORMED fault naming the limit). Defaults: DEFAULT_XML_LIMITS (libs/campaign/xml/src/xml.parser.ts),
   * chosen above any legitimate Campaign call.
   */
  XML_MAX_ATTRIBUTES_PER_ELEMENT: field.positiveInt(DEFAULT_XML_LIMITS.maxAttributesPerElement),
  XML_MAX_NAMESPACE_DECLARATIONS_PER_ELEMENT: field.positiveInt(DEFAULT_XML_LIMITS.maxNamespaceDeclarationsPerElement),
  XML_MAX_NAMESPACE_DECLARATIONS: field.positiveInt(DEFAULT_XML_LIMITS.maxNamespaceDeclarations),
  /** Elements, attributes and text nodes together. */
  XML_MAX_NODES: field.positiveInt(DEFAULT_XML_LIMITS.maxNodes),
  XML_MAX_TEXT_CHARS: field.positiveInt(DEFAULT_XML_LIMITS.maxTextLength),
  XML_MAX_ATTRIBUTE_VALUE_CHARS: field.positiveInt(DEFAULT_XML_LIMITS.maxAttributeValueLength),
  /** Extra srcSchema folders (extensions, custom namespaces), comma-separated; the same list on every service. */
  SCHEMA_DIRS: field.string(''),
  /** JSON file of TPS limits (format: apps/api-gateway/rate-limits.example.json); empty = built-in defaults. */
  RATE_LIMITS_FILE: field.string(''),
  /** Budget of one shared (Redis) rate-limit decision; past it the per-process fallback decides (each decision ≤ 50 ms). */
  RATE_LIMIT_REDIS_TIMEOUT_MS: field.durationMs(35),
  /** mcPing reports an error when this many transactional events are pending. */
  MC_QUEUE_MAX: field.positiveInt(100_000),
  /** Reported by Logon and /r/test. */
  INSTANCE_NAME: field.identifier('cap'),
  /** `production` refuses to start without SECRETS_KEYS or SECRETS_KEYS_FILE (no development key). */
  NODE_ENV: field.string(''),
  /**
   * Keys of xtk:session#Encrypt / EncryptPassword tokens: `id:base64key` (32 bytes), comma-separated, newest
   * first; the newest encrypts, every one decrypts (docs/secrets.md). Empty outside production: the public
   * development key.
   */
  SECRETS_KEYS: field.string(''),
  /** A file holding the same list (one key a line, `#` comments), e.g. a mounted secret; instead of SECRETS_KEYS. */
  SECRETS_KEYS_FILE: field.string(''),
  /**
   * Largest file /nl/jsp/uploadFile.jsp takes (bytes; the upload is cut there, 413). At most 64 MiB, what local-store
   * assembles; a gateway holds at most 4 uploads at once, so up to 4 × this in memory (docs/files-and-reports.md).
   */
  FILE_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(64 * 1024 * 1024)
    .default(10 * 1024 * 1024),
  /** Start of the public URLs of published files (xtk:fileRes#GetURL), e.g. https://res.example.com; empty: the scheme and host the SOAP call came to. */
  FILE_PUBLIC_URL: field.string(''),
};

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

/**
 * The gateway's settings, and the secrets key ring they give (`secretKeys`). A bad key, a missing or unreadable
 * key file, or no key with NODE_ENV=production stops the start with every problem named (never a key's value).
 */
export function loadGatewayConfig(env: Record<string, string | undefined>) {
  const config = loadConfig('api-gateway', shape, env);
  let file: { name: string; text: string } | undefined;
  if (config.SECRETS_KEYS_FILE) {
    try {
      file = { name: config.SECRETS_KEYS_FILE, text: readFileSync(config.SECRETS_KEYS_FILE, 'utf8') };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new ConfigError('api-gateway', [`SECRETS_KEYS_FILE=${JSON.stringify(config.SECRETS_KEYS_FILE)}: cannot be read (${code})`]);
    }
  }
  const { ring, problems } = resolveSecretKeys({ keys: config.SECRETS_KEYS, file, production: config.NODE_ENV === 'production' });
  if (!ring) throw new ConfigError('api-gateway', problems);
  const secretKeys: SecretKeyRing = ring;
  const oidcJwks = checkOidc(config);
  return Object.freeze({ ...config, secretKeys, oidcJwks });
}

/**
 * The OpenID Connect settings hold together: an issuer needs an audience and exactly one key source, a URL is http(s),
 * a key file is a readable JSON Web Key Set (returned); key settings without an issuer are a mistake, not ignored.
 */
function checkOidc(config: { OIDC_ISSUER: string; OIDC_AUDIENCE: string; OIDC_JWKS_URL: string; OIDC_JWKS_FILE: string }): JSONWebKeySet | undefined {
  const problems: string[] = [];
  if (!config.OIDC_ISSUER) {
    for (const key of ['OIDC_AUDIENCE', 'OIDC_JWKS_URL', 'OIDC_JWKS_FILE'] as const)
      if (config[key]) problems.push(`${key}: set without OIDC_ISSUER (token logon through an OpenID Connect issuer needs it)`);
    if (problems.length) throw new ConfigError('api-gateway', problems);
    return undefined;
  }
  if (!config.OIDC_AUDIENCE) problems.push('OIDC_AUDIENCE: required with OIDC_ISSUER');
  if (!config.OIDC_JWKS_URL === !config.OIDC_JWKS_FILE) problems.push('OIDC_JWKS_URL, OIDC_JWKS_FILE: exactly one is required with OIDC_ISSUER');
  if (config.OIDC_JWKS_URL) {
    let protocol = '';
    try {
      protocol = new URL(config.OIDC_JWKS_URL).protocol;
    } catch {
      // reported below
    }
    if (protocol !== 'https:' && protocol !== 'http:') problems.push(`OIDC_JWKS_URL=${JSON.stringify(config.OIDC_JWKS_URL)}: expected an http or https URL`);
  }
  let jwks: JSONWebKeySet | undefined;
  if (config.OIDC_JWKS_FILE) {
    const name = `OIDC_JWKS_FILE=${JSON.stringify(config.OIDC_JWKS_FILE)}`;
    let text: string | undefined;
    try {
      text = readFileSync(config.OIDC_JWKS_FILE, 'utf8');
    } catch (err) {
      problems.push(`${name}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
    if (text !== undefined) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      const why = json === undefined ? 'not JSON' : whyNotJwks(json);
      if (why) problems.push(`${name}: ${why}`);
      else {
        jwks = json as JSONWebKeySet;
        try {
          createLocalJWKSet(jwks);
        } catch (err) {
          problems.push(`${name}: ${(err as Error).message}`);
        }
      }
    }
  }
  if (problems.length) throw new ConfigError('api-gateway', problems);
  return jwks;
}
