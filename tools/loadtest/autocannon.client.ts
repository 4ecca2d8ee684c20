import type { EventEmitter } from 'node:events';

/**
 * The part of autocannon 8's programmatic API the load-test tool and the benchmarks use, typed (the package
 * ships no types and the repository has no @types/autocannon). Behaviour verified against
 * node_modules/autocannon/lib (8.0.0):
 *
 * - Each connection is a `Client` that loops over `requests`. A request with a `setupRequest` function is
 *   rebuilt before every send, so bodies and headers can change per request.
 * - `onResponse(status, body, context, headers)` of a request receives the whole response body as a string
 *   (httpClient → requestIterator.recordBody), synchronously before the client emits `response` with the
 *   latency; the next request is prepared only after that. With pipelining 1, per-connection state set in
 *   `setupRequest` therefore belongs to the response that follows.
 * - `overallRate` is split over the connections as a per-second quota per connection (a connection sends its
 *   quota as fast as the server answers, then waits for its next one-second tick), so the load arrives in
 *   bursts at the start of each second; and if the rate is below `connections`, autocannon lowers
 *   `connections` to the rate.
 * - With a rate, autocannon's own latency histogram "corrects" coordinated omission with an expected interval
 *   of ceil(1 / per-connection rate) = 1 ms, which adds synthetic samples; callers that keep their own
 *   latencies pass `ignoreCoordinatedOmission: true`.
 */
export interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Returns the request to send (or a falsy value to restart the sequence). */
  setupRequest?: (request: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest | null | undefined;
  onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string | string[]>) => void;
}

/** One connection. */
export interface AutocannonClient extends EventEmitter {
  setRequests(requests: AutocannonRequest[]): void;
  on(event: 'response', listener: (statusCode: number, resBytes: number, responseTimeMs: number) => void): this;
  on(event: string, listener: (...args: unknown[]) => void): this;
}

export interface AutocannonOptions {
  url: string;
  connections: number;
  /** Seconds. */
  duration: number;
  overallRate?: number;
  /** Seconds before a request counts as timed out (the connection is then re-opened). */
  timeout?: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  requests?: AutocannonRequest[];
  setupClient?: (client: AutocannonClient) => void;
  ignoreCoordinatedOmission?: boolean;
}

interface Histogram {
  average: number;
  mean: number;
  stddev: number;
  min: number;
  max: number;
  total: number;
  p50: number;
  p90: number;
  p99: number;
  p99_9: number;
}

export interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  statusCodeStats: Record<string, { count: number }>;
  latency: Histogram;
  /** Per-second sample histogram of completed requests; `total` is the number of responses. */
  requests: Histogram & { sent: number };
  throughput: Histogram;
}

export interface AutocannonInstance extends EventEmitter, PromiseLike<AutocannonResult> {
  stop(): void;
  on(event: 'response', listener: (client: AutocannonClient, statusCode: number, resBytes: number, responseTimeMs: number) => void): this;
  on(event: 'reqError', listener: (error: Error) => void): this;
  on(event: string, listener: (...args: unknown[]) => void): this;
}

type Autocannon = (options: AutocannonOptions) => AutocannonInstance;

/** Starts autocannon (no callback: the instance is also a promise of the result). */
export function startAutocannon(options: AutocannonOptions): AutocannonInstance {
  const autocannon = require('autocannon') as Autocannon;
  return autocannon(options);
}
