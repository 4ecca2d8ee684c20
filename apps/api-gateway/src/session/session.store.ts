import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { RedisClient } from '@cap/platform-redis';
import type { Operator, Session } from './session.model';

export interface SessionStoreOptions {
  redis: RedisClient;
  keyPrefix: string;
  sessionTtlMs: number;
  longSessionTtlMs: number;
  now?: () => number;
}

interface StoredSession extends Session {
  securityTokenHash: string;
}

export interface IssuedSession {
  sessionToken: string;
  securityToken: string;
  session: Session;
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/**
 * Sessions live in Redis so any gateway replica serves any session, and Logoff on one replica ends the
 * session on all. Given a client with server-assisted client-side caching (`createRedis({ clientSideCache })`),
 * a session read once is served from memory until Redis reports the key changed, deleted or expired, or the
 * connection drops: a call then costs no session round trip, and Logoff still ends the session on every replica
 * as soon as Redis's invalidation message reaches it. Tokens are never stored: keys and the security token are SHA-256 digests, and the
 * security token is compared in constant time.
 */
/** Most entries of each memo below; past it the memo starts afresh (sessions in use are re-added at once). */
const MEMO_MAX = 10_000;

export class SessionStore {
  private readonly now: () => number;
  /** Redis key of a session token (a SHA-256 per call otherwise). */
  private readonly keys = new Map<string, string>();
  /** The parsed session of a stored value: with a client-side cache, the same value comes back every call. */
  private readonly parsed = new Map<string, StoredSession>();

  constructor(private readonly options: SessionStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  async create(operator: Operator, rememberMe: boolean): Promise<IssuedSession> {
    const sessionToken = `___${randomUUID().toUpperCase()}`;
    const securityToken = `@${randomBytes(32).toString('base64url')}==`;
    const ttl = rememberMe ? this.options.longSessionTtlMs : this.options.sessionTtlMs;
    const createdAt = this.now();
    const session: Session = { operator, createdAt, expiresAt: createdAt + ttl, rememberMe };
    const stored: StoredSession = { ...session, securityTokenHash: sha256(securityToken) };
    await this.options.redis.set(this.key(sessionToken), JSON.stringify(stored), { PX: ttl });
    return { sessionToken, securityToken, session };
  }

  /**
   * The session for a token, or undefined when unknown, expired or logged off. When the caller presents a
   * security token it must match (constant time); `requireSecurityToken` refuses calls that present none.
   */
  async find(sessionToken: string, securityToken: string | undefined, requireSecurityToken: boolean): Promise<Session | undefined> {
    if (!sessionToken.startsWith('___') || sessionToken.length > 128) return undefined;
    const raw = await this.options.redis.get(this.key(sessionToken));
    if (!raw) return undefined;
    const stored = this.parse(raw);
    if (stored.expiresAt <= this.now()) return undefined;
    if (securityToken) {
      const given = createHash('sha256').update(securityToken).digest();
      const expected = Buffer.from(stored.securityTokenHash, 'hex');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    } else if (requireSecurityToken) {
      return undefined;
    }
    return { operator: stored.operator, createdAt: stored.createdAt, expiresAt: stored.expiresAt, rememberMe: stored.rememberMe };
  }

  async delete(sessionToken: string): Promise<boolean> {
    const key = this.key(sessionToken);
    const deleted = (await this.options.redis.del(key)) > 0;
    // Other replicas drop their cached copy on Redis's invalidation message; this one drops its own now.
    this.options.redis.clientSideCache?.invalidate(key);
    return deleted;
  }

  private key(sessionToken: string): string {
    let key = this.keys.get(sessionToken);
    if (key === undefined) {
      key = `${this.options.keyPrefix}session:${sha256(sessionToken)}`;
      if (this.keys.size >= MEMO_MAX) this.keys.clear();
      this.keys.set(sessionToken, key);
    }
    return key;
  }

  private parse(raw: string): StoredSession {
    let stored = this.parsed.get(raw);
    if (stored === undefined) {
      stored = JSON.parse(raw) as StoredSession;
      if (this.parsed.size >= MEMO_MAX) this.parsed.clear();
      this.parsed.set(raw, stored);
    }
    return stored;
  }
}
