import type { GatewayConfig } from '../config';
import type { BearerOptions } from './authenticator';

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
