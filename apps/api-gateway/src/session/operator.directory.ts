import { OPERATOR_STATE_METHOD, operatorStateKey, operatorStateSchema, SERVICES, type OperatorState } from '@cap/contracts';
import { ErrorCodes, isAppError } from '@cap/platform-errors';
import type { RedisClient } from '@cap/platform-redis';
import type { Downstreams } from '../downstream.client';
import { CAMPAIGN_FAULTS } from '../soap/campaign.faults';
import type { AuthThrottle, AuthVia } from './auth.throttle';
import type { Operator } from './session.model';

/** Operators as the gateway sees them: local-store owns them; their live state comes through Redis. */
export interface OperatorDirectory {
  /**
   * Checks a login and password (Logon, a "login/password" session token, HTTP Basic), throttled per login and
   * per client address: a locked login or address is refused (AuthLocked) before any password is verified, a
   * wrong password counts, an over-long login or password is a wrong one. Wrong credentials → LOGON_REFUSED.
   */
  authenticate(login: string, password: string, options: { loginToken: boolean; address: string; via: AuthVia }): Promise<Operator>;
  /** An operator by login (bearer tokens name their subject). */
  get(login: string): Promise<Operator>;
  /**
   * The operator of a session or token as it is now: current rights, label and time zone; a disabled or deleted
   * operator (or one no longer allowed login/password tokens) → SESSION_INVALID, so a change applies to live sessions
   * on every replica as soon as Redis invalidates the cached state.
   */
  current(operator: Operator, via: 'session' | 'loginToken' | 'bearer'): Promise<Operator>;
}

/** Longest login and password checked; anything longer cannot be right and is refused before it travels. */
export const MAX_LOGIN_LENGTH = 128;
export const MAX_PASSWORD_LENGTH = 1024;

/** Parsed states by their stored text (the same text comes back from the client-side cache on every call). */
const PARSED_MAX = 10_000;

export function createOperatorDirectory(deps: {
  downstreams: Downstreams;
  throttle: AuthThrottle;
  /** The sessions' Redis client (server-assisted client-side caching: a state read once is served from memory until it changes). */
  redis: RedisClient;
  keyPrefix: string;
  /** Lifetime of a state this gateway fills from local-store when Redis has none. */
  stateTtlMs: number;
}): OperatorDirectory {
  const parsed = new Map<string, OperatorState>();
  const filling = new Map<string, Promise<OperatorState>>();

  const parse = (raw: string): OperatorState | undefined => {
    let state = parsed.get(raw);
    if (state === undefined) {
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch {
        return undefined; // unreadable: filled again from local-store
      }
      const checked = operatorStateSchema.safeParse(json);
      if (!checked.success) return undefined;
      state = checked.data;
      if (parsed.size >= PARSED_MAX) parsed.clear();
      parsed.set(raw, state);
    }
    return state;
  };

  /** No state in Redis (expired, or Redis restarted): local-store answers it; stored only if still absent (NX), so
   *  it never overwrites a newer state local-store wrote meanwhile. One fill per operator at a time. */
  const fill = (id: string): Promise<OperatorState> => {
    let pending = filling.get(id);
    if (!pending) {
      pending = (async () => {
        const state = operatorStateSchema.parse(await deps.downstreams.call<unknown>(SERVICES.localStore, OPERATOR_STATE_METHOD, { id }));
        await deps.redis.set(operatorStateKey(deps.keyPrefix, id), JSON.stringify(state), { NX: true, PX: deps.stateTtlMs }).catch(() => undefined);
        return state;
      })().finally(() => filling.delete(id));
      filling.set(id, pending);
    }
    return pending;
  };

  const invalidLogin = () => CAMPAIGN_FAULTS.invalidLogin();

  return {
    async authenticate(login, password, options) {
      await deps.throttle.check(login.slice(0, MAX_LOGIN_LENGTH), options.address);
      if (login.length > MAX_LOGIN_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
        await deps.throttle.failed(login.slice(0, MAX_LOGIN_LENGTH), options.address, options.via);
        throw invalidLogin();
      }
      let operator: Operator;
      try {
        operator = await deps.downstreams.call<Operator>(SERVICES.localStore, 'operator.authenticate', { login, password, loginToken: options.loginToken });
      } catch (err) {
        if (isAppError(err) && err.code === ErrorCodes.LOGON_REFUSED) await deps.throttle.failed(login, options.address, options.via);
        throw err;
      }
      await deps.throttle.succeeded(login);
      return operator;
    },
    get: (login) => deps.downstreams.call<Operator>(SERVICES.localStore, 'operator.get', { login: login.slice(0, MAX_LOGIN_LENGTH) }),
    async current(operator, via) {
      const raw = await deps.redis.get(operatorStateKey(deps.keyPrefix, operator.id));
      const state = (raw ? parse(raw) : undefined) ?? (await fill(operator.id));
      if (state.kind === 'deleted' || state.disabled || (via === 'loginToken' && !state.allowLoginToken)) throw CAMPAIGN_FAULTS.sessionExpired();
      if (state.login === operator.login && state.label === operator.label && state.timezone === operator.timezone && sameRights(state.rights, operator.rights))
        return operator;
      return { ...operator, login: state.login, label: state.label, rights: state.rights, timezone: state.timezone };
    },
  };
}

function sameRights(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((r, i) => r === b[i]);
}
