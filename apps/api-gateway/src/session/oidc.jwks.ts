import { createLocalJWKSet, errors, type FlattenedJWSInput, type JSONWebKeySet, type JWSHeaderParameters, type KeyLike } from 'jose';

/** The verification keys of bearer tokens for jose's jwtVerify: picked by the token's header (kid, alg). */
export type JwksKeys = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<KeyLike>;

/** The issuer's key set cannot be had (unreachable, slow, oversized, unreadable): no token can be checked now. */
export class JwksUnavailable extends Error {
  constructor(readonly why: string) {
    super(`the JSON Web Key Set cannot be read: ${why}`);
    this.name = 'JwksUnavailable';
  }
}

/**
 * A JSON Web Key Set as jose takes it: an object with a `keys` array of objects; anything else is refused
 * (createLocalJWKSet would refuse it too, later and less clearly). Returns the reason, or undefined when fine.
 */
export function whyNotJwks(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { keys?: unknown }).keys)) return 'not a JSON Web Key Set (no "keys" list)';
  if (!(value as { keys: unknown[] }).keys.every((k) => typeof k === 'object' && k !== null && !Array.isArray(k)))
    return 'not a JSON Web Key Set (a key is not an object)';
  return undefined;
}

export interface RemoteJwksOptions {
  url: string;
  /** Budget of one fetch, body included; past it the fetch is abandoned. */
  timeoutMs: number;
  /** Largest key set read; a longer answer is abandoned. */
  maxBytes: number;
  /** Least time between two fetches: a token naming an unknown kid reads the set again at most this often, and a failed fetch is not tried again sooner. */
  cooldownMs: number;
  /** Keys older than this are read again before use (the old ones stay in use while the issuer cannot be reached). */
  maxAgeMs: number;
  fetch?: typeof fetch;
  now?: () => number;
  /** Told of every failed fetch (a log line). */
  onUnavailable?: (why: string) => void;
}

/** Reads a response body up to `maxBytes`; abandons it past that. */
async function readCapped(res: Response, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new JwksUnavailable(`answer over ${maxBytes} bytes`);
  }
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new JwksUnavailable(`answer over ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The key set of an OpenID Connect issuer, fetched from its URL: read on first use, kept `maxAgeMs`, read again
 * when a token names a kid it does not hold (key rotation) — at most once per `cooldownMs`, however many tokens
 * ask, one fetch at a time. Each fetch is bounded in time (`timeoutMs`, body included) and size (`maxBytes`),
 * follows no redirect, and must answer 200 with a JSON Web Key Set. While the issuer cannot be reached, the keys
 * last read stay in use; with none read yet, verification fails with JwksUnavailable (at once within the cooldown
 * after a failed fetch, so a dead issuer costs neither waiting callers nor a flood of fetches).
 *
 * jose's own createRemoteJWKSet (5.10, Node build) reads the answer whole, with no size bound and a timeout on
 * the response headers only: hence this reader, which hands the set it read to jose's createLocalJWKSet.
 */
export function createRemoteJwks(options: RemoteJwksOptions): JwksKeys {
  const now = options.now ?? Date.now;
  const fetchFn = options.fetch ?? fetch;
  let current: { keys: JwksKeys; readAt: number } | undefined;
  let lastAttempt = Number.NEGATIVE_INFINITY;
  let lastFailure: string | undefined;
  let pending: Promise<void> | undefined;

  async function download(): Promise<JSONWebKeySet> {
    let res: Response;
    const signal = AbortSignal.timeout(options.timeoutMs);
    try {
      res = await fetchFn(options.url, { signal, redirect: 'error', headers: { accept: 'application/json' } });
    } catch (err) {
      throw new JwksUnavailable(signal.aborted ? `no answer within ${options.timeoutMs} ms` : `cannot connect (${(err as Error).message})`);
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      throw new JwksUnavailable(`HTTP ${res.status}`);
    }
    let text: string;
    try {
      text = await readCapped(res, options.maxBytes);
    } catch (err) {
      if (err instanceof JwksUnavailable) throw err;
      throw new JwksUnavailable(signal.aborted ? `no answer within ${options.timeoutMs} ms` : `answer cut short (${(err as Error).message})`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new JwksUnavailable('not a JSON Web Key Set (not JSON)');
    }
    const why = whyNotJwks(json);
    if (why) throw new JwksUnavailable(why);
    return json as JSONWebKeySet;
  }

  /** One fetch at a time; a failure is remembered for the cooldown. */
  function refresh(): Promise<void> {
    pending ??= (async () => {
      lastAttempt = now();
      try {
        current = { keys: createLocalJWKSet(await download()), readAt: now() };
        lastFailure = undefined;
      } catch (err) {
        lastFailure = err instanceof JwksUnavailable ? err.why : `not a JSON Web Key Set (${(err as Error).message})`;
        options.onUnavailable?.(lastFailure);
        throw err instanceof JwksUnavailable ? err : new JwksUnavailable(lastFailure);
      }
    })().finally(() => {
      lastAttempt = now(); // the cooldown counts from the end of a fetch: a slow issuer is not asked again at once
      pending = undefined;
    });
    return pending;
  }

  const coolingDown = () => now() - lastAttempt < options.cooldownMs;

  return async (header, token) => {
    if (!current || now() - current.readAt >= options.maxAgeMs) {
      if (pending) await pending.catch(() => undefined);
      else if (!coolingDown()) await refresh().catch(() => undefined);
      if (!current) throw new JwksUnavailable(lastFailure ?? 'not read yet');
    }
    const held = current;
    try {
      return await held.keys(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      // A kid this set does not hold: the issuer may have rotated its keys. Read them again, unless just read.
      if (pending) await pending.catch(() => undefined);
      else if (!coolingDown()) await refresh().catch(() => undefined);
      if (current === held) throw err;
      return current!.keys(header, token);
    }
  };
}
