import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '@cap/platform-config';

/**
 * The gateway's TPS limits, read from a JSON file (see apps/api-gateway/rate-limits.example.json):
 *
 * ```json
 * { "windowMs": 1000,
 *   "default":  { "limit": 100 },
 *   "internal": { "limit": 200, "apis": ["xtk:persist#GetEntityIfMoreRecent"] },
 *   "apis":     { "xtk:session#Logon": { "limit": 20 }, "nms:rtEvent#PushEvent": { "limit": 500 } },
 *   "fallback": "local" }
 * ```
 *
 * - `windowMs`: length of the sliding window (ms) for every policy that does not set its own.
 * - `default`: the limit of any API without an entry in `apis`.
 * - `apis`: per-API overrides, keyed by `urn#Method`. Every spelling of one API is one API: at start-up each
 *   name is resolved to its canonical form (`xtk:persist#Write` for `xtk:session#Write` or
 *   `xtk:persist|nms:recipient#Write`; `schema#Method` otherwise), and calls are counted under that form
 *   whatever URN they use, so a caller cannot open a fresh bucket by spelling the URN differently. A name
 *   that no served API answers to stops the start, named.
 * - `internal`: the separate, more generous bucket of calls carrying `ACC-SDK-Call-Internal: 1` (the SDK's
 *   own schema downloads). The header is sent by the client, so it is honoured only for the APIs listed in
 *   `internal.apis` (default: `xtk:persist#GetEntityIfMoreRecent`) and only for what the SDK really fetches
 *   with it (a schema: `xtk:schema|…` or `xtk:srcSchema|…`); on any other call it is ignored, so it cannot be
 *   used to escape an API's limit. Without `internal`, the header is ignored.
 * - `fallback`: what happens while Redis cannot be reached: `local` (default, fail-open: each gateway
 *   process limits on its own with the same limits) or `deny` (fail-closed: every call gets a 429).
 */

/** `urn#Method`, with the interface form `xtk:persist|xtk:session#Write` too. */
export const API_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]*:[A-Za-z][A-Za-z0-9_]*(\|[A-Za-z][A-Za-z0-9_]*:[A-Za-z][A-Za-z0-9_]*)?#[A-Za-z_][A-Za-z0-9_]*$/;

export const DEFAULT_INTERNAL_APIS = ['xtk:persist#GetEntityIfMoreRecent'];

/** The limits used when no file is configured; apps/api-gateway/rate-limits.example.json holds the same. */
export const DEFAULT_RATE_LIMITS = {
  windowMs: 1000,
  default: { limit: 100 },
  internal: { limit: 200, apis: DEFAULT_INTERNAL_APIS },
  apis: {
    'xtk:session#Logon': { limit: 20 },
    'xtk:session#BearerTokenLogon': { limit: 20 },
    'nms:rtEvent#PushEvent': { limit: 500 },
    'nms:rtEvent#PushEvents': { limit: 100 },
  },
  fallback: 'local',
};

/** Bounds keep one key's sorted set small (≤ limit members) and the window meaningful. */
const windowMs = z.number().int().min(10).max(3_600_000);
const limit = z.number().int().min(1).max(100_000);
const apiName = z.string().regex(API_NAME_PATTERN, { message: 'expected an API name like "xtk:session#Logon"' });

const policySchema = z.strictObject({ limit, windowMs: windowMs.optional() });

const fileSchema = z.strictObject({
  windowMs: windowMs.default(1_000),
  default: policySchema,
  internal: z.strictObject({ limit, windowMs: windowMs.optional(), apis: z.array(apiName).min(1).default(DEFAULT_INTERNAL_APIS) }).optional(),
  apis: z.record(apiName, policySchema).default({}),
  fallback: z.enum(['local', 'deny']).default('local'),
});

export type RateLimitFallback = 'local' | 'deny';

/** One resolved policy: what a decision is checked against and what the headers advertise. */
export interface RateLimitPolicy {
  /** Name in the `RateLimit-Policy`/`RateLimit` headers: "default", "internal" or the API name. */
  name: string;
  limit: number;
  windowMs: number;
  /** Key space: calls of the internal bucket never share a window with ordinary calls. */
  bucket: 'api' | 'internal';
}

export interface RateLimitConfig {
  windowMs: number;
  default: RateLimitPolicy;
  internal?: RateLimitPolicy & { apis: ReadonlySet<string> };
  apis: ReadonlyMap<string, RateLimitPolicy>;
  fallback: RateLimitFallback;
}

function describePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out || '(root)';
}

/**
 * Validates a parsed rate-limit file. Throws one ConfigError listing every bad entry by its path
 * (e.g. `apis["xtk:session#Logon"].limit: …`).
 */
export function parseRateLimitConfig(input: unknown, source = 'rate limits'): RateLimitConfig {
  const result = fileSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      // A bad record key (an API name) carries the reason in its nested issue.
      const message = issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
      return `${describePath(issue.path)}: ${message}`;
    });
    throw new ConfigError(source, problems);
  }
  const file = result.data;
  const apis = new Map<string, RateLimitPolicy>();
  for (const [name, entry] of Object.entries(file.apis)) {
    apis.set(name, { name, limit: entry.limit, windowMs: entry.windowMs ?? file.windowMs, bucket: 'api' });
  }
  const config: RateLimitConfig = {
    windowMs: file.windowMs,
    default: { name: 'default', limit: file.default.limit, windowMs: file.default.windowMs ?? file.windowMs, bucket: 'api' },
    apis,
    fallback: file.fallback,
  };
  if (file.internal) {
    config.internal = {
      name: 'internal',
      limit: file.internal.limit,
      windowMs: file.internal.windowMs ?? file.windowMs,
      bucket: 'internal',
      apis: new Set(file.internal.apis),
    };
  }
  return config;
}

/** Reads and validates the JSON file at `path` (once, at start-up); no path: the built-in defaults. */
export function loadRateLimitConfig(path?: string): RateLimitConfig {
  if (!path) return parseRateLimitConfig(DEFAULT_RATE_LIMITS, 'built-in rate limits');
  const source = `rate limits file ${path}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(source, [`cannot be read: ${(err as Error).message}`]);
  }
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(source, [`is not valid JSON: ${(err as Error).message}`]);
  }
  return parseRateLimitConfig(input, source);
}

/** The policy a call is checked against: internal bucket (eligible APIs only), per-API override, default. */
export function resolvePolicy(config: RateLimitConfig, request: { api: string; internal: boolean }): RateLimitPolicy {
  if (request.internal && config.internal?.apis.has(request.api)) return config.internal;
  return config.apis.get(request.api) ?? config.default;
}

/**
 * The same limits keyed by canonical API names (`canonicalName`: the dispatcher's, which knows every served
 * API). Names that resolve to nothing, or two names of one API, stop the start with every problem named.
 */
export function canonicalizeRateLimitConfig(
  config: RateLimitConfig,
  canonicalName: (api: string) => string | undefined,
  source = 'rate limits',
): RateLimitConfig {
  const problems: string[] = [];
  const canonical = (name: string, where: string): string | undefined => {
    const resolved = canonicalName(name);
    if (resolved === undefined) problems.push(`${where}: no served API is called '${name}'`);
    return resolved;
  };
  const apis = new Map<string, RateLimitPolicy>();
  for (const [name, policy] of config.apis) {
    const resolved = canonical(name, `apis[${JSON.stringify(name)}]`);
    if (resolved === undefined) continue;
    if (apis.has(resolved)) problems.push(`apis[${JSON.stringify(name)}]: the same API as another entry (${resolved})`);
    apis.set(resolved, { ...policy, name: resolved });
  }
  let internal = config.internal;
  if (internal) {
    const names = [...internal.apis].map((name, i) => canonical(name, `internal.apis[${i}]`)).filter((n): n is string => n !== undefined);
    internal = { ...internal, apis: new Set(names) };
  }
  if (problems.length > 0) throw new ConfigError(source, problems);
  return { ...config, apis, ...(internal ? { internal } : {}) };
}
