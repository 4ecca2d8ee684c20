import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { decodeProtectedHeader, jwtVerify, type JWTPayload, type JWTVerifyOptions, type KeyLike } from 'jose';
import type { SoapCall } from '@cap/campaign-soap';
import { ErrorCodes, isAppError } from '@cap/platform-errors';
import { CAMPAIGN_FAULTS } from '../soap/campaign.faults';
import type { AuthThrottle } from './auth.throttle';
import { JwksUnavailable, type JwksKeys } from './oidc.jwks';
import { MAX_LOGIN_LENGTH, type OperatorDirectory } from './operator.directory';
import type { Operator } from './session.model';
import type { SessionStore } from './session.store';

export type Caller = { kind: 'operator'; operator: Operator; via: 'session' | 'loginToken' | 'bearer'; sessionToken?: string } | { kind: 'anonymous' };

/** Where a request comes from: its client address (as the trusted-proxy setting resolves it) and its headers. */
export interface RequestOrigin {
  ip: string;
  headers: IncomingHttpHeaders;
}

export interface BearerOptions {
  key: KeyLike | Uint8Array;
  /** Verification options: the allowed algorithms (never `none`), issuer, audience. */
  options: JWTVerifyOptions & { algorithms: string[] };
  /** Longest lifetime accepted (exp − iat, and exp − now): a token without `exp` is refused. */
  maxLifetimeMs: number;
}

/** Bearer tokens of an OpenID Connect issuer (IMS-style token logon): its public keys, its claims, the login claim. */
export interface OidcOptions {
  keys: JwksKeys;
  /** The issuer and audience required, the allowed algorithms (asymmetric only), the clock skew (`clockTolerance`, seconds). */
  options: JWTVerifyOptions & { algorithms: string[]; issuer: string; audience: string };
  /** The claim whose value is the operator's login (`sub`, `preferred_username`, `email`…). */
  loginClaim: string;
  /** Longest lifetime accepted (exp − iat, and exp − now): a token without `exp` is refused. */
  maxLifetimeMs: number;
}

/** Longest bearer token looked at: anything longer is refused before it is decoded. */
export const MAX_BEARER_TOKEN_CHARS = 8_192;

export interface AuthenticatorOptions {
  sessions: SessionStore;
  operators: OperatorDirectory;
  throttle: AuthThrottle;
  /** Accept a session token presented without its security token (the SDK's ofSessionToken). */
  allowSessionTokenOnly: boolean;
  /** Verifies HMAC bearer JWTs (a development option; BearerTokenLogon and per-call bearer); with neither this nor `oidc`, bearer auth is off. */
  jwt?: BearerOptions;
  /** Verifies bearer tokens of an OpenID Connect issuer (tokens whose algorithm is not one of `jwt`'s). */
  oidc?: OidcOptions;
  /** How long a verified login/password token is trusted before its password is checked again. */
  loginTokenCacheMs: number;
  now?: () => number;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return (Array.isArray(v) ? v[0] : v)?.trim() || undefined;
}

function cookieSessionToken(headers: IncomingHttpHeaders): string | undefined {
  const cookie = header(headers, 'cookie');
  const m = cookie ? /(?:^|;\s*)__sessiontoken=([^;]*)/.exec(cookie) : null;
  return m?.[1]?.trim() || undefined;
}

/** Most login/password tokens remembered as verified (past it, the memo starts afresh). */
const LOGIN_TOKEN_MEMO_MAX = 10_000;

/**
 * Resolves who makes a call, Campaign's way: a bearer JWT (Authorization header), else the session token
 * (first SOAP parameter, SOAP header cookie, X-Session-Token or the __sessiontoken cookie) checked with its
 * security token (X-Security-Token), else a Message Center style "login/password" session token when that
 * operator may use one. No credentials at all → anonymous; credentials that do not check out → SESSION_INVALID.
 * Whatever the way, the operator is then taken as it is now (OperatorDirectory.current): rights changed or an
 * operator disabled since the session opened apply to this call. Failed password and bearer checks are counted
 * (AuthThrottle).
 */
export function createAuthenticator(options: AuthenticatorOptions) {
  const now = options.now ?? Date.now;
  const loginTokenCache = new Map<string, { operator: Operator; until: number }>();

  /** The login a verified token names, or undefined when the token does not check out. */
  async function verifiedLogin(token: string): Promise<string | undefined> {
    if (token.length > MAX_BEARER_TOKEN_CHARS) return undefined;
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      return undefined;
    }
    // The development HMAC secret verifies only its own algorithms; every other token goes to the issuer's keys,
    // which allow asymmetric algorithms only (an HS256 token signed with the issuer's public key is refused there).
    const hmac = options.jwt && (!options.oidc || (alg !== undefined && options.jwt.options.algorithms.includes(alg))) ? options.jwt : undefined;
    let payload: JWTPayload;
    let claim: string;
    let maxLifetimeMs: number;
    try {
      if (hmac) {
        ({ payload } = await jwtVerify(token, hmac.key, { ...hmac.options, requiredClaims: ['exp'] }));
        claim = 'sub';
        maxLifetimeMs = hmac.maxLifetimeMs;
      } else {
        const oidc = options.oidc!;
        ({ payload } = await jwtVerify(token, oidc.keys, { ...oidc.options, requiredClaims: ['exp', 'iss', 'aud'] }));
        claim = oidc.loginClaim;
        maxLifetimeMs = oidc.maxLifetimeMs;
      }
    } catch (err) {
      if (err instanceof JwksUnavailable) throw CAMPAIGN_FAULTS.identityProviderUnavailable(err.why);
      return undefined;
    }
    const issuedAt = typeof payload.iat === 'number' ? payload.iat * 1000 : now();
    const expires = payload.exp! * 1000;
    if (expires - issuedAt > maxLifetimeMs || expires - now() > maxLifetimeMs) return undefined;
    const login = payload[claim];
    return typeof login === 'string' && login && login.length <= MAX_LOGIN_LENGTH ? login : undefined;
  }

  async function fromBearer(token: string, origin: RequestOrigin): Promise<Operator> {
    if (!options.jwt && !options.oidc) throw CAMPAIGN_FAULTS.sessionExpired();
    await options.throttle.check(undefined, origin.ip);
    const login = await verifiedLogin(token);
    if (!login) {
      await options.throttle.failed(undefined, origin.ip, 'bearer');
      throw CAMPAIGN_FAULTS.sessionExpired();
    }
    // A valid token for a login that does not exist (or is disabled) is a bad bearer token, as any other.
    return options.operators.get(login).catch((err: unknown) => {
      if (isAppError(err) && err.code === ErrorCodes.LOGON_REFUSED) throw CAMPAIGN_FAULTS.sessionExpired();
      throw err;
    });
  }

  async function fromLoginToken(token: string, origin: RequestOrigin): Promise<Operator> {
    const cacheKey = createHash('sha256').update(token).digest('hex');
    const hit = loginTokenCache.get(cacheKey);
    if (hit && hit.until > now()) return hit.operator;
    const slash = token.indexOf('/');
    const operator = await options.operators
      .authenticate(token.slice(0, slash), token.slice(slash + 1), { loginToken: true, address: origin.ip, via: 'loginToken' })
      .catch((err: unknown) => {
        if (err instanceof Error && err.name === 'AuthLocked') throw err;
        throw CAMPAIGN_FAULTS.sessionExpired();
      });
    if (loginTokenCache.size >= LOGIN_TOKEN_MEMO_MAX) loginTokenCache.clear();
    loginTokenCache.set(cacheKey, { operator, until: now() + options.loginTokenCacheMs });
    return operator;
  }

  return {
    verifyBearer: fromBearer,

    async authenticate(call: SoapCall, bodySessionToken: string, origin: RequestOrigin): Promise<Caller> {
      const { headers } = origin;
      const authorization = header(headers, 'authorization');
      if (authorization?.toLowerCase().startsWith('bearer ')) {
        const operator = await fromBearer(authorization.slice(7).trim(), origin);
        return { kind: 'operator', operator: await options.operators.current(operator, 'bearer'), via: 'bearer' };
      }
      const sessionToken = bodySessionToken || call.header.sessionToken || header(headers, 'x-session-token') || cookieSessionToken(headers);
      const securityToken = header(headers, 'x-security-token') || call.header.securityToken;
      if (!sessionToken) {
        if (securityToken) throw CAMPAIGN_FAULTS.sessionExpired(); // a security token alone identifies nobody
        return { kind: 'anonymous' };
      }
      if (!sessionToken.startsWith('___') && sessionToken.includes('/')) {
        const operator = await fromLoginToken(sessionToken, origin);
        return { kind: 'operator', operator: await options.operators.current(operator, 'loginToken'), via: 'loginToken' };
      }
      const session = await options.sessions.find(sessionToken, securityToken, !options.allowSessionTokenOnly);
      if (!session) throw CAMPAIGN_FAULTS.sessionExpired();
      return { kind: 'operator', operator: await options.operators.current(session.operator, 'session'), via: 'session', sessionToken };
    },
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
