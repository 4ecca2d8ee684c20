import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { jwtVerify, type JWTVerifyOptions, type KeyLike } from 'jose';
import type { SoapCall } from '@cap/campaign-soap';
import { ErrorCodes, isAppError } from '@cap/platform-errors';
import { CAMPAIGN_FAULTS } from '../soap/campaign.faults';
import type { AuthThrottle } from './auth.throttle';
import type { OperatorDirectory } from './operator.directory';
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

export interface AuthenticatorOptions {
  sessions: SessionStore;
  operators: OperatorDirectory;
  throttle: AuthThrottle;
  /** Accept a session token presented without its security token (the SDK's ofSessionToken). */
  allowSessionTokenOnly: boolean;
  /** Verifies bearer JWTs (BearerTokenLogon and per-call IMS-style bearer); undefined disables bearer auth. */
  jwt?: BearerOptions;
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

  async function fromBearer(token: string, origin: RequestOrigin): Promise<Operator> {
    const jwt = options.jwt;
    if (!jwt) throw CAMPAIGN_FAULTS.sessionExpired();
    await options.throttle.check(undefined, origin.ip);
    let login: string | undefined;
    try {
      const { payload } = await jwtVerify(token, jwt.key, { ...jwt.options, requiredClaims: ['exp'] });
      const issuedAt = typeof payload.iat === 'number' ? payload.iat * 1000 : now();
      const expires = payload.exp! * 1000;
      if (expires - issuedAt > jwt.maxLifetimeMs || expires - now() > jwt.maxLifetimeMs) throw new Error('lifetime over the limit');
      login = typeof payload.sub === 'string' && payload.sub ? payload.sub : undefined;
    } catch {
      login = undefined;
    }
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
