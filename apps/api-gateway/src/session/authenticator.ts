import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { jwtVerify, type JWTVerifyOptions, type KeyLike } from 'jose';
import type { SoapCall } from '@cap/campaign-soap';
import { CAMPAIGN_FAULTS } from '../soap/campaign.faults';
import type { Operator } from './session.model';
import type { SessionStore } from './session.store';

export type Caller =
  | { kind: 'operator'; operator: Operator; via: 'session' | 'loginToken' | 'bearer'; sessionToken?: string }
  | { kind: 'anonymous' };

/** How operators are looked up and checked (local-store owns them). */
export interface OperatorDirectory {
  authenticate(login: string, password: string, options: { loginToken: boolean }): Promise<Operator>;
  get(login: string): Promise<Operator>;
}

export interface AuthenticatorOptions {
  sessions: SessionStore;
  operators: OperatorDirectory;
  /** Accept a session token presented without its security token (the SDK's ofSessionToken). */
  allowSessionTokenOnly: boolean;
  /** Verifies bearer JWTs (BearerTokenLogon and per-call IMS-style bearer); undefined disables bearer auth. */
  jwt?: { key: KeyLike | Uint8Array; options: JWTVerifyOptions };
  /** How long a verified login/password token is trusted before being checked again. */
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

/**
 * Resolves who makes a call, Campaign's way: a bearer JWT (Authorization header), else the session token
 * (first SOAP parameter, SOAP header cookie, X-Session-Token or the __sessiontoken cookie) checked with its
 * security token (X-Security-Token), else a Message Center style "login/password" session token when that
 * operator may use one. No credentials at all → anonymous; credentials that do not check out → XSV-350008.
 */
export function createAuthenticator(options: AuthenticatorOptions) {
  const now = options.now ?? Date.now;
  const loginTokenCache = new Map<string, { operator: Operator; until: number }>();

  async function fromBearer(token: string): Promise<Operator> {
    if (!options.jwt) throw CAMPAIGN_FAULTS.sessionExpired();
    let login: string | undefined;
    try {
      const { payload } = await jwtVerify(token, options.jwt.key, options.jwt.options);
      login = typeof payload.sub === 'string' ? payload.sub : undefined;
    } catch {
      throw CAMPAIGN_FAULTS.sessionExpired();
    }
    if (!login) throw CAMPAIGN_FAULTS.sessionExpired();
    return options.operators.get(login);
  }

  async function fromLoginToken(token: string): Promise<Operator> {
    const cacheKey = createHash('sha256').update(token).digest('hex');
    const hit = loginTokenCache.get(cacheKey);
    if (hit && hit.until > now()) return hit.operator;
    const slash = token.indexOf('/');
    const operator = await options.operators.authenticate(token.slice(0, slash), token.slice(slash + 1), { loginToken: true }).catch(() => {
      throw CAMPAIGN_FAULTS.sessionExpired();
    });
    if (loginTokenCache.size > 10_000) loginTokenCache.clear();
    loginTokenCache.set(cacheKey, { operator, until: now() + options.loginTokenCacheMs });
    return operator;
  }

  return {
    verifyBearer: fromBearer,

    async authenticate(call: SoapCall, bodySessionToken: string, headers: IncomingHttpHeaders): Promise<Caller> {
      const authorization = header(headers, 'authorization');
      if (authorization?.toLowerCase().startsWith('bearer ')) {
        return { kind: 'operator', operator: await fromBearer(authorization.slice(7).trim()), via: 'bearer' };
      }
      const sessionToken = bodySessionToken || call.header.sessionToken || header(headers, 'x-session-token') || cookieSessionToken(headers);
      const securityToken = header(headers, 'x-security-token') || call.header.securityToken;
      if (!sessionToken) {
        if (securityToken) throw CAMPAIGN_FAULTS.sessionExpired(); // a security token alone identifies nobody
        return { kind: 'anonymous' };
      }
      if (!sessionToken.startsWith('___') && sessionToken.includes('/')) {
        return { kind: 'operator', operator: await fromLoginToken(sessionToken), via: 'loginToken' };
      }
      const session = await options.sessions.find(sessionToken, securityToken, !options.allowSessionTokenOnly);
      if (!session) throw CAMPAIGN_FAULTS.sessionExpired();
      return { kind: 'operator', operator: session.operator, via: 'session', sessionToken };
    },
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
