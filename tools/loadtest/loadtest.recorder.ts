import { LatencyHistogram, percentileOfSorted } from './latency.histogram';
import { findSoapFault } from './soap.envelope';

/** What one answer was. SOAP faults come with HTTP 200 (the SDK parses faults only on 2xx). */
export type Outcome = { kind: 'ok' } | { kind: 'fault'; code: string } | { kind: 'tooMany' } | { kind: 'status'; status: number };

/** Reads an answer: 429, another non-2xx status, a 2xx SOAP fault (with its code) or a 2xx success. */
export function classifyResponse(status: number, body: string): Outcome {
  if (status === 429) return { kind: 'tooMany' };
  if (status < 200 || status > 299) return { kind: 'status', status };
  const fault = findSoapFault(body);
  return fault ? { kind: 'fault', code: fault.code } : { kind: 'ok' };
}

export interface OutcomeCounts {
  /** Every answer received (all statuses). */
  responses: number;
  /** 2xx without a SOAP fault. */
  ok: number;
  /** 2xx SOAP faults by Campaign code. */
  faults: Record<string, number>;
  /** HTTP 429. */
  tooMany: number;
  /** Other non-2xx statuses, by status. */
  otherStatus: Record<string, number>;
  /** Connection errors and timeouts (no answer). */
  errors: number;
  timeouts: number;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** One second of the run (by completion time): counts and exact latency percentiles (ms). */
export interface SecondSample extends OutcomeCounts {
  /** Seconds since the start of the load (0 = first second). */
  second: number;
  latency: LatencySummary;
  /** Latency of the 2xx OK answers only. */
  okLatency: { p50: number; p99: number };
}

export interface LoadTestTotals extends OutcomeCounts {
  latency: LatencySummary;
  okLatency: LatencySummary;
  faultCount: number;
  otherStatusCount: number;
  /** Distinct connection error messages, most frequent first. */
  errorMessages: { message: string; count: number }[];
  /** Per API (useful for `mixed`). */
  byApi: Record<string, OutcomeCounts>;
}

const emptyCounts = (): OutcomeCounts => ({ responses: 0, ok: 0, faults: {}, tooMany: 0, otherStatus: {}, errors: 0, timeouts: 0 });

function add(counts: OutcomeCounts, outcome: Outcome): void {
  counts.responses += 1;
  switch (outcome.kind) {
    case 'ok':
      counts.ok += 1;
      break;
    case 'tooMany':
      counts.tooMany += 1;
      break;
    case 'fault':
      counts.faults[outcome.code] = (counts.faults[outcome.code] ?? 0) + 1;
      break;
    case 'status':
      counts.otherStatus[String(outcome.status)] = (counts.otherStatus[String(outcome.status)] ?? 0) + 1;
      break;
  }
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

function summarize(h: LatencyHistogram): LatencySummary {
  return { count: h.count, p50: h.percentile(50), p90: h.percentile(90), p99: h.percentile(99), max: h.max, mean: h.mean };
}

interface OpenSecond {
  counts: OutcomeCounts;
  latencies: number[];
  okLatencies: number[];
}

/**
 * Collects every answer and error of a run: whole-run totals (histogram percentiles), and per-second
 * samples with exact percentiles (the raw latencies of a second are kept only until that second is over).
 */
export class LoadTestRecorder {
  private readonly all = new LatencyHistogram();
  private readonly okOnly = new LatencyHistogram();
  private readonly totals = emptyCounts();
  private readonly byApi = new Map<string, OutcomeCounts>();
  private readonly errorMessages = new Map<string, number>();
  private readonly closed: SecondSample[] = [];
  private readonly open = new Map<number, OpenSecond>();

  /**
   * @param startMs when the load started (same clock as the `atMs` given later: performance.now()).
   * @param lastSecond events after this second (answers trickling in after the end) count in it.
   */
  constructor(
    private readonly startMs: number,
    private readonly lastSecond = Number.POSITIVE_INFINITY,
  ) {}

  /** The open second an event at `atMs` belongs to; an event for a second already closed goes to the next open one. */
  private secondAt(atMs: number): OpenSecond {
    const second = Math.max(this.nextSecond(), Math.min(this.lastSecond, Math.floor((atMs - this.startMs) / 1000)));
    let bucket = this.open.get(second);
    if (!bucket) this.open.set(second, (bucket = { counts: emptyCounts(), latencies: [], okLatencies: [] }));
    return bucket;
  }

  private nextSecond(): number {
    const last = this.closed[this.closed.length - 1];
    return last ? last.second + 1 : 0;
  }

  recordResponse(api: string, outcome: Outcome, latencyMs: number, atMs: number): void {
    const bucket = this.secondAt(atMs);
    add(bucket.counts, outcome);
    bucket.latencies.push(latencyMs);
    add(this.totals, outcome);
    this.all.record(latencyMs);
    if (outcome.kind === 'ok') {
      bucket.okLatencies.push(latencyMs);
      this.okOnly.record(latencyMs);
    }
    add(this.countsOf(api), outcome);
  }

  recordError(kind: 'timeout' | 'error', message: string, atMs: number, api?: string): void {
    const targets = [this.secondAt(atMs).counts, this.totals];
    if (api) targets.push(this.countsOf(api));
    for (const counts of targets) {
      counts.errors += 1;
      if (kind === 'timeout') counts.timeouts += 1;
    }
    this.errorMessages.set(message, (this.errorMessages.get(message) ?? 0) + 1);
  }

  private countsOf(api: string): OutcomeCounts {
    let counts = this.byApi.get(api);
    if (!counts) this.byApi.set(api, (counts = emptyCounts()));
    return counts;
  }

  /** Closes every second before `second` (filling silent seconds with zeros) and returns the new samples. */
  closeBefore(second: number): SecondSample[] {
    const added: SecondSample[] = [];
    for (let s = this.nextSecond(); s < second; s++) {
      const bucket = this.open.get(s) ?? { counts: emptyCounts(), latencies: [], okLatencies: [] };
      this.open.delete(s);
      const latencies = Float64Array.from(bucket.latencies).sort();
      const ok = Float64Array.from(bucket.okLatencies).sort();
      const sample: SecondSample = {
        second: s,
        ...bucket.counts,
        latency: {
          count: latencies.length,
          p50: percentileOfSorted(latencies, 50),
          p90: percentileOfSorted(latencies, 90),
          p99: percentileOfSorted(latencies, 99),
          max: latencies.length ? latencies[latencies.length - 1]! : 0,
          mean: latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : 0,
        },
        okLatency: { p50: percentileOfSorted(ok, 50), p99: percentileOfSorted(ok, 99) },
      };
      this.closed.push(sample);
      added.push(sample);
    }
    return added;
  }

  /** The seconds closed so far, in order. */
  closedSeconds(): readonly SecondSample[] {
    return this.closed;
  }

  /** Closes the seconds fully elapsed at `atMs`. */
  closeElapsed(atMs: number): SecondSample[] {
    return this.closeBefore(Math.min(this.lastSecond, Math.floor((atMs - this.startMs) / 1000)));
  }

  /** Totals so far (whole-run percentiles from the histogram). */
  totalsSoFar(): LoadTestTotals {
    return {
      ...structuredClone(this.totals),
      latency: summarize(this.all),
      okLatency: summarize(this.okOnly),
      faultCount: sum(this.totals.faults),
      otherStatusCount: sum(this.totals.otherStatus),
      errorMessages: [...this.errorMessages].map(([message, count]) => ({ message, count })).sort((a, b) => b.count - a.count),
      byApi: Object.fromEntries([...this.byApi].map(([api, c]) => [api, structuredClone(c)])),
    };
  }

  /** Closes every second up to `endMs` (the last, partial one included) and returns the series. */
  finish(endMs: number): { series: SecondSample[]; totals: LoadTestTotals } {
    const lastOpen = Math.max(-1, ...this.open.keys());
    const elapsed = Math.min(this.lastSecond + 1, Math.ceil((endMs - this.startMs) / 1000));
    this.closeBefore(Math.max(elapsed, lastOpen + 1));
    return { series: [...this.closed], totals: this.totalsSoFar() };
  }
}
