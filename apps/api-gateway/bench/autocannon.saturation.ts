/**
 * Saturation throughput with autocannon 8 (closed loop: each connection sends its next request as soon as
 * the previous answer is read). autocannon ships no types: the few fields used here are typed below.
 */
interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  mismatches: number;
  non2xx: number;
  requests: { total: number; average: number };
  latency: { p50: number; p99: number };
}

type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  method: string;
  headers: Record<string, string>;
  body: string;
  verifyBody?: (body: string) => boolean;
}) => PromiseLike<AutocannonResult>;

export interface SaturationResult {
  /** Answers per second over the run. */
  rps: number;
  total: number;
  errors: number;
  non2xx: number;
  /** Answers that failed `verifyBody` (e.g. SOAP faults). */
  mismatches: number;
  p50: number;
  p99: number;
}

export async function measureSaturation(options: {
  url: string;
  path: string;
  connections: number;
  seconds: number;
  headers: Record<string, string>;
  body: string;
  verifyBody?: (body: string) => boolean;
}): Promise<SaturationResult> {
  const autocannon = require('autocannon') as Autocannon;
  const r = await autocannon({
    url: `${options.url}${options.path}`,
    connections: options.connections,
    duration: options.seconds,
    method: 'POST',
    headers: options.headers,
    body: options.body,
    ...(options.verifyBody ? { verifyBody: options.verifyBody } : {}),
  });
  return {
    rps: r.requests.total / r.duration,
    total: r.requests.total,
    errors: r.errors,
    non2xx: r.non2xx,
    mismatches: r.mismatches,
    p50: r.latency.p50,
    p99: r.latency.p99,
  };
}
