import { createLocalJWKSet } from 'jose';
import type { GatewayConfig } from '../config';
import type { BearerOptions, OidcOptions } from './authenticator';
import { createRemoteJwks, type JwksKeys } from './oidc.jwks';

/**
 * How bearer JWTs are verified (BearerTokenLogon, Authorization: Bearer), from the JWT_* settings: the HMAC secret,
 * the allowed algorithms, the issuer and audience when set, the longest lifetime. No secret: bearer auth is off (undefined).
 */
export function bearerOptions(
  config: Pick<GatewayConfig, 'JWT_SECRET' | 'JWT_ALGORITHMS' | 'JWT_ISSUER' | 'JWT_AUDIENCE' | 'JWT_MAX_LIFETIME_MS'>,
): BearerOptions | undefined {
  if (!config.JWT_SECRET) return undefined;
  return {
    key: new TextEncoder().encode(config.JWT_SECRET),
    options: {
      algorithms: config.JWT_ALGORITHMS,
      ...(config.JWT_ISSUER ? { issuer: config.JWT_ISSUER } : {}),
      ...(config.JWT_AUDIENCE ? { audience: config.JWT_AUDIENCE } : {}),
    },
    maxLifetimeMs: config.JWT_MAX_LIFETIME_MS,
  };
}

/**
 * How tokens of an OpenID Connect issuer are verified (OIDC_* settings): the keys from OIDC_JWKS_FILE (read at start)
 * or fetched from OIDC_JWKS_URL (bounded, cached, read again on an unknown kid at most once per cooldown), the issuer,
 * audience and asymmetric algorithms required, the clock skew, the login claim, the lifetime limit of JWT_MAX_LIFETIME_MS.
 * No issuer: OpenID Connect logon is off (undefined).
 */
export function oidcOptions(
  config: Pick<
    GatewayConfig,
    | 'OIDC_ISSUER'
    | 'OIDC_AUDIENCE'
    | 'OIDC_JWKS_URL'
    | 'OIDC_ALGORITHMS'
    | 'OIDC_LOGIN_CLAIM'
    | 'OIDC_CLOCK_SKEW_MS'
    | 'OIDC_JWKS_TIMEOUT_MS'
    | 'OIDC_JWKS_MAX_BYTES'
    | 'OIDC_JWKS_REFRESH_COOLDOWN_MS'
    | 'OIDC_JWKS_MAX_AGE_MS'
    | 'JWT_MAX_LIFETIME_MS'
    | 'oidcJwks'
  >,
  deps: { onUnavailable?: (why: string) => void; fetch?: typeof fetch } = {},
): OidcOptions | undefined {
  if (!config.OIDC_ISSUER) return undefined;
  const keys: JwksKeys = config.oidcJwks
    ? createLocalJWKSet(config.oidcJwks)
    : createRemoteJwks({
        url: config.OIDC_JWKS_URL,
        timeoutMs: config.OIDC_JWKS_TIMEOUT_MS,
        maxBytes: config.OIDC_JWKS_MAX_BYTES,
        cooldownMs: config.OIDC_JWKS_REFRESH_COOLDOWN_MS,
        maxAgeMs: config.OIDC_JWKS_MAX_AGE_MS,
        ...deps,
      });
  return {
    keys,
    options: {
      algorithms: config.OIDC_ALGORITHMS,
      issuer: config.OIDC_ISSUER,
      audience: config.OIDC_AUDIENCE,
      clockTolerance: config.OIDC_CLOCK_SKEW_MS / 1000,
    },
    loginClaim: config.OIDC_LOGIN_CLAIM,
    maxLifetimeMs: config.JWT_MAX_LIFETIME_MS,
  };
}
