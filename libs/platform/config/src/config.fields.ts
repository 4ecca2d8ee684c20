import { isIP } from 'node:net';
import { z } from 'zod';

/** A comma-separated setting as its trimmed, non-empty items. */
const commaList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );

/** Reusable field types for service configuration schemas. Units are in the variable names (…_MS). */
export const field = {
  string: (fallback?: string) => (fallback === undefined ? z.string() : z.string().default(fallback)),
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  nonNegativeInt: (fallback: number) => z.coerce.number().int().min(0).default(fallback),
  durationMs: (fallback: number) => z.coerce.number().int().min(1).max(86_400_000).default(fallback),
  boolean: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  url: (protocols: string[], fallback: string) =>
    z
      .string()
      .default(fallback)
      .refine(
        (v) => {
          try {
            return protocols.includes(new URL(v).protocol.replace(/:$/, ''));
          } catch {
            return false;
          }
        },
        { message: `expected a URL with protocol ${protocols.join(' or ')}` },
      ),
  /** Comma-separated host:port list, e.g. KAFKA_BROKERS=127.0.0.1:9092,127.0.0.1:9093 */
  hostPortList: (fallback: string) =>
    commaList(fallback).refine((list) => list.length > 0 && list.every((hp) => /^[^\s:]+:\d{1,5}$/.test(hp)), {
      message: 'expected a comma-separated list of host:port',
    }),
  enumOf: <T extends string>(values: readonly [T, ...T[]], fallback: NoInfer<T>) => z.enum(values).default(fallback),
  /** Prefixes of Redis keys: letters, digits, ':', '.', '-', '_'. */
  keyPrefix: (fallback: string) =>
    z
      .string()
      .default(fallback)
      .refine((v) => /^[A-Za-z0-9:._-]*$/.test(v), { message: 'only letters, digits, ":", ".", "-" and "_" are allowed' }),
  /**
   * Proxies whose X-Forwarded-For is believed: a comma-separated list of IP addresses, CIDR ranges
   * (10.0.0.0/8, fd00::/8) or the names loopback, linklocal, uniquelocal; empty trusts none (the TCP peer is the
   * client).
   */
  trustedProxies: (fallback: string) =>
    commaList(fallback).refine((list) => list.every(isProxyEntry), {
      message: 'expected IP addresses, CIDR ranges or loopback, linklocal, uniquelocal, comma-separated',
    }),
  /** Names that become part of topic or key names: letters, digits, dot, dash, underscore. */
  identifier: (fallback: string) =>
    z
      .string()
      .default(fallback)
      .refine((v) => /^[A-Za-z0-9._-]*$/.test(v), { message: 'only letters, digits, ".", "-" and "_" are allowed' }),
};

function isProxyEntry(entry: string): boolean {
  if (entry === 'loopback' || entry === 'linklocal' || entry === 'uniquelocal') return true;
  const [address, bits, extra] = entry.split('/');
  const version = isIP(address ?? '');
  if (version === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d{1,3}$/.test(bits) && n >= 0 && n <= (version === 4 ? 32 : 128);
}
