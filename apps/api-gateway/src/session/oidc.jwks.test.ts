import { errors, exportJWK, generateKeyPair, type JWK } from 'jose';
import { createRemoteJwks, JwksUnavailable, whyNotJwks, type RemoteJwksOptions } from './oidc.jwks';

const URL = 'https://issuer.example.test/jwks';
const token = { payload: '', signature: '' };

async function jwk(kid: string): Promise<JWK> {
  const { publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
}

/** An issuer answering what `answer` says, counting fetches, on a clock the test moves. */
function fakeIssuer(answer: () => Response | Promise<Response>) {
  const state = { fetches: 0, now: 1_000_000 };
  const fetchFn = (async (_url: string, init?: RequestInit) => {
    state.fetches++;
    expect(init?.redirect).toBe('error');
    return answer();
  }) as unknown as typeof fetch;
  const options = (more: Partial<RemoteJwksOptions> = {}): RemoteJwksOptions => ({
    url: URL,
    timeoutMs: 200,
    maxBytes: 10_000,
    cooldownMs: 1_000,
    maxAgeMs: 60_000,
    fetch: fetchFn,
    now: () => state.now,
    ...more,
  });
  return { state, options };
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const reason = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err instanceof JwksUnavailable ? `unavailable: ${err.why}` : (err as Error).name;
  }
  return 'resolved';
};

describe('remote JSON Web Key Set', () => {
  it('when many tokens arrive at once, then the set is fetched once and each gets its key', async () => {
    const a = await jwk('a');
    const issuer = fakeIssuer(() => json({ keys: [a] }));
    const keys = createRemoteJwks(issuer.options());
    const found = await Promise.all(Array.from({ length: 10 }, () => keys({ alg: 'RS256', kid: 'a' }, token)));
    expect(found).toHaveLength(10);
    expect(issuer.state.fetches).toBe(1);
  });

  it('when a token names an unknown kid, then the set is read again, at most once per cooldown', async () => {
    const [a, b] = await Promise.all([jwk('a'), jwk('b')]);
    let served = [a];
    const issuer = fakeIssuer(() => json({ keys: served }));
    const keys = createRemoteJwks(issuer.options());
    await keys({ alg: 'RS256', kid: 'a' }, token);
    served = [a, b];
    // Within the cooldown: refused without a fetch.
    expect(await reason(keys({ alg: 'RS256', kid: 'b' }, token))).toBe(new errors.JWKSNoMatchingKey().name);
    expect(issuer.state.fetches).toBe(1);
    issuer.state.now += 1_000;
    await keys({ alg: 'RS256', kid: 'b' }, token);
    expect(issuer.state.fetches).toBe(2);
    // Unknown kids in a burst after the cooldown: one fetch for all.
    issuer.state.now += 1_000;
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => reason(keys({ alg: 'RS256', kid: `x${i}` }, token))));
    expect(new Set(answers).size).toBe(1);
    expect(issuer.state.fetches).toBe(3);
  });

  it('when the issuer fails, then the reason is given, and within the cooldown no new fetch is made', async () => {
    const cases: Array<[string, () => Response, string]> = [
      ['a 503', () => new Response('down', { status: 503 }), 'unavailable: HTTP 503'],
      ['a declared oversized body', () => json({ keys: [], padding: 'x'.repeat(20_000) }), 'unavailable: answer over 10000 bytes'],
      [
        'an undeclared oversized body',
        () =>
          new Response(
            new ReadableStream({
              pull(controller) {
                controller.enqueue(new Uint8Array(4_096));
              },
            }),
          ),
        'unavailable: answer over 10000 bytes',
      ],
      ['not JSON', () => new Response('<html/>'), 'unavailable: not a JSON Web Key Set (not JSON)'],
      ['no keys list', () => json({ keys: 'nope' }), 'unavailable: not a JSON Web Key Set (no "keys" list)'],
    ];
    for (const [label, answer, expected] of cases) {
      const issuer = fakeIssuer(answer);
      const told: string[] = [];
      const keys = createRemoteJwks(issuer.options({ onUnavailable: (why) => told.push(why) }));
      expect([label, await reason(keys({ alg: 'RS256', kid: 'a' }, token))]).toEqual([label, expected]);
      expect([label, await reason(keys({ alg: 'RS256', kid: 'a' }, token))]).toEqual([label, expected]);
      expect([label, issuer.state.fetches, told.length]).toEqual([label, 1, 1]);
    }
  });

  it('when the issuer does not answer in time, then the fetch is abandoned after the timeout', async () => {
    const issuer = fakeIssuer(() => new Promise<Response>(() => undefined));
    const hanging = (async (_url: string, init?: RequestInit) => {
      issuer.state.fetches++;
      return new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
    }) as unknown as typeof fetch;
    const keys = createRemoteJwks(issuer.options({ fetch: hanging, timeoutMs: 100 }));
    const started = Date.now();
    expect(await reason(keys({ alg: 'RS256', kid: 'a' }, token))).toBe('unavailable: no answer within 100 ms');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('when the keys are old and the issuer is down, then the keys last read stay in use', async () => {
    const a = await jwk('a');
    let up = true;
    const issuer = fakeIssuer(() => (up ? json({ keys: [a] }) : new Response('', { status: 502 })));
    const keys = createRemoteJwks(issuer.options());
    await keys({ alg: 'RS256', kid: 'a' }, token);
    up = false;
    issuer.state.now += 60_000;
    await expect(keys({ alg: 'RS256', kid: 'a' }, token)).resolves.toBeDefined();
    expect(issuer.state.fetches).toBe(2);
  });

  it('when a value is checked as a key set, then only an object with a list of objects passes', () => {
    expect(whyNotJwks({ keys: [] })).toBeUndefined();
    expect(whyNotJwks({ keys: [{ kty: 'RSA' }] })).toBeUndefined();
    expect(whyNotJwks([])).toMatch(/no "keys" list/);
    expect(whyNotJwks({ keys: [1] })).toMatch(/not an object/);
    expect(whyNotJwks(null)).toMatch(/no "keys" list/);
  });
});
