import { readFileSync } from 'node:fs';
import { DEFAULT_XML_LIMITS } from '@cap/campaign-xml';
import { ConfigError, field, loadConfig, serviceConfigShape } from '@cap/platform-config';
import { resolveSecretKeys, type SecretKeyRing } from '@cap/platform-secrets';

const DAY_MS = 86_400_000;

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
  return Object.freeze({ ...config, secretKeys });
}
