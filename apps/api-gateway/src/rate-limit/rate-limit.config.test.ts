import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@cap/platform-config';
import { canonicalizeRateLimitConfig, DEFAULT_RATE_LIMITS, loadRateLimitConfig, parseRateLimitConfig, resolvePolicy } from './rate-limit.config';

const EXAMPLE = join(__dirname, '..', '..', 'rate-limits.example.json');

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('rate-limit config', () => {
  it('when the example file is loaded, then its defaults, overrides and internal bucket are resolved', () => {
    const config = loadRateLimitConfig(EXAMPLE);
    expect(config.fallback).toBe('local');
    expect(config.default).toEqual({ name: 'default', limit: 100, windowMs: 1000, bucket: 'api' });
    expect(config.apis.get('xtk:session#Logon')).toEqual({ name: 'xtk:session#Logon', limit: 20, windowMs: 1000, bucket: 'api' });
    expect(config.internal).toMatchObject({ name: 'internal', limit: 200, windowMs: 1000, bucket: 'internal' });
  });

  it('when no file is configured, then the built-in defaults apply, and the example file shows exactly them', () => {
    expect(loadRateLimitConfig(undefined)).toEqual(loadRateLimitConfig(EXAMPLE));
    expect(JSON.parse(readFileSync(EXAMPLE, 'utf8'))).toEqual(DEFAULT_RATE_LIMITS);
  });

  it('when only a default is given, then the window is 1 s, fallback is local and there is no internal bucket', () => {
    const config = parseRateLimitConfig({ default: { limit: 5 } });
    expect(config.windowMs).toBe(1000);
    expect(config.fallback).toBe('local');
    expect(config.internal).toBeUndefined();
    expect(config.apis.size).toBe(0);
  });

  it('when a per-API window is set, then it overrides the file window for that API only', () => {
    const config = parseRateLimitConfig({ windowMs: 2000, default: { limit: 5 }, apis: { 'nms:rtEvent#PushEvent': { limit: 50, windowMs: 500 } } });
    expect(resolvePolicy(config, { api: 'nms:rtEvent#PushEvent', internal: false }).windowMs).toBe(500);
    expect(resolvePolicy(config, { api: 'xtk:session#Write', internal: false }).windowMs).toBe(2000);
  });

  it('when several entries are bad, then one error names each bad entry by its path', () => {
    const problems = problemsOf(() =>
      parseRateLimitConfig(
        {
          windowMs: 0,
          default: { limit: 'many' },
          internal: { limit: 10, apis: ['not an api'] },
          apis: { 'xtk:session#Logon': { limit: -1 }, Logon: { limit: 3 }, 'nms:rtEvent#PushEvent': { limit: 5, burst: 9 } },
          fallback: 'open',
          extra: true,
        },
        'rate limits file x.json',
      ),
    );
    const text = problems.join('\n');
    expect(text).toContain('windowMs:');
    expect(text).toContain('default.limit:');
    expect(text).toContain('internal.apis[0]:');
    expect(text).toContain('apis["xtk:session#Logon"].limit:');
    expect(text).toMatch(/apis\.Logon: expected an API name/);
    expect(text).toContain('apis["nms:rtEvent#PushEvent"]: Unrecognized key: "burst"');
    expect(text).toContain('fallback:');
    expect(text).toContain('Unrecognized key: "extra"');
    expect(problems).toHaveLength(8);
  });

  it('when the file is missing or not JSON, then the error says which file and why', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cap-rl-'));
    const bad = join(dir, 'limits.json');
    writeFileSync(bad, '{ "default": { "limit": 5 }, }');
    expect(() => loadRateLimitConfig(bad)).toThrow(/rate limits file .*limits\.json[\s\S]*not valid JSON/);
    expect(() => loadRateLimitConfig(join(dir, 'absent.json'))).toThrow(/absent\.json[\s\S]*cannot be read/);
  });

  describe('resolvePolicy', () => {
    const config = parseRateLimitConfig({
      default: { limit: 100 },
      internal: { limit: 1000 },
      apis: { 'xtk:session#Logon': { limit: 20 } },
    });

    it('when an API has an override, then its own limit applies under its own name', () => {
      expect(resolvePolicy(config, { api: 'xtk:session#Logon', internal: false })).toMatchObject({ name: 'xtk:session#Logon', limit: 20 });
    });

    it('when an API has no override, then the default policy applies', () => {
      expect(resolvePolicy(config, { api: 'xtk:queryDef#ExecuteQuery', internal: false })).toMatchObject({ name: 'default', limit: 100 });
    });

    it('when the SDK flags its own schema download as internal, then it counts in the internal bucket', () => {
      expect(resolvePolicy(config, { api: 'xtk:persist#GetEntityIfMoreRecent', internal: true })).toMatchObject({
        name: 'internal',
        limit: 1000,
        bucket: 'internal',
      });
    });

    it('when a client flags a non-eligible API (Logon) as internal, then the flag is ignored', () => {
      expect(resolvePolicy(config, { api: 'xtk:session#Logon', internal: true })).toMatchObject({ name: 'xtk:session#Logon', limit: 20, bucket: 'api' });
    });
  });
});

describe('canonical API names in the limits', () => {
  const canonical = (name: string) =>
    ({
      'xtk:session#Write': 'xtk:persist#Write',
      'xtk:persist|nms:recipient#Write': 'xtk:persist#Write',
      'xtk:session#Logon': 'xtk:session#Logon',
      'xtk:persist#GetEntityIfMoreRecent': 'xtk:persist#GetEntityIfMoreRecent',
    })[name];

  it('when limits name an API by any spelling, then they are keyed by its canonical name', () => {
    const config = canonicalizeRateLimitConfig(
      parseRateLimitConfig({ default: { limit: 100 }, internal: { limit: 50 }, apis: { 'xtk:session#Write': { limit: 7 } } }),
      canonical,
    );
    expect(config.apis.get('xtk:persist#Write')).toMatchObject({ name: 'xtk:persist#Write', limit: 7 });
    expect(config.apis.has('xtk:session#Write')).toBe(false);
    expect([...config.internal!.apis]).toEqual(['xtk:persist#GetEntityIfMoreRecent']);
  });

  it('when a name resolves to no served API, or two names to one API, then the start stops naming each', () => {
    expect(() =>
      canonicalizeRateLimitConfig(
        parseRateLimitConfig({
          default: { limit: 100 },
          apis: { 'nms:nothing#Here': { limit: 1 }, 'xtk:session#Write': { limit: 1 }, 'xtk:persist|nms:recipient#Write': { limit: 2 } },
        }),
        canonical,
      ),
    ).toThrow(/no served API is called 'nms:nothing#Here'[\s\S]*the same API as another entry \(xtk:persist#Write\)/);
  });
});
