import { performance } from 'node:perf_hooks';
import { startAutocannon, type AutocannonClient } from './autocannon.client';
import type { LoadTestOptions } from './loadtest.options';
import { classifyResponse, LoadTestRecorder, type Outcome, type SecondSample } from './loadtest.recorder';
import { formatProgressLine } from './loadtest.report';
import type { LoadTestResult } from './loadtest.result';
import { createScenario, type PreparedCall } from './loadtest.scenarios';
import { LogonError, logonEnvelope, parseLogonResponse, routerPath, buildHeaders, type SessionTokens } from './soap.envelope';

export interface RunLoadTestIo {
  /** Receives one line per elapsed second. */
  progress?: (line: string) => void;
  /** Aborting stops the load early; the result then covers what ran. */
  signal?: AbortSignal;
}

function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

/**
 * Logs on once (xtk:session#Logon over HTTP) and returns the session and security tokens. A 429 (Logon has a
 * low limit) is retried after its Retry-After, at most 3 times.
 */
export async function logOn(options: Pick<LoadTestOptions, 'url' | 'user' | 'password' | 'timeoutSeconds'>): Promise<SessionTokens> {
  const basePath = new URL(options.url).pathname.replace(/\/+$/, '');
  const url = `${new URL(options.url).origin}${routerPath(basePath, 'xtk:session#Logon')}`;
  for (let attempt = 1; ; attempt++) {
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: buildHeaders('xtk:session#Logon'),
        body: logonEnvelope(options.user, options.password),
        signal: AbortSignal.timeout(options.timeoutSeconds * 1000),
      });
    } catch (err) {
      throw new LogonError(`cannot reach ${options.url}: ${describeFetchError(err)}`);
    }
    const body = await res.text();
    if (res.status === 429 && attempt <= 3) {
      const waitSeconds = Math.min(5, Math.max(0.1, Number(res.headers.get('retry-after')) || 1));
      await new Promise((resolve) => setTimeout(resolve, waitSeconds * 1000));
      continue;
    }
    return parseLogonResponse(res.status, body);
  }
}

function header(headers: Record<string, string | string[]>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

/**
 * Runs one load test: logs on, then drives autocannon at the fixed rate for the duration, classifying every
 * answer (2xx OK, 2xx SOAP fault by code, 429, other status) and every error, second by second.
 * Throws LogonError when the set-up logon fails (nothing is sent then).
 */
export async function runLoadTest(options: LoadTestOptions, io: RunLoadTestIo = {}): Promise<LoadTestResult> {
  const target = new URL(options.url);
  const basePath = target.pathname.replace(/\/+$/, '');
  const tokens = await logOn(options);
  const scenario = createScenario(options.scenario, { basePath, tokens, user: options.user, password: options.password });
  const effectiveConnections = Math.min(options.connections, options.rate);
  const policies = new Map<string, string>();

  const startedAt = new Date();
  const startMs = performance.now();
  const recorder = new LoadTestRecorder(startMs, options.durationSeconds - 1);

  // autocannon's own `requests.sent` counts each connection's first per-second quota up front: count here.
  let sent = 0;
  const setupClient = (client: AutocannonClient) => {
    // With pipelining 1 a connection has one request in flight: the call prepared last is the one answered.
    let current: PreparedCall | undefined;
    let outcome: Outcome | undefined;
    client.setRequests([
      {
        method: 'POST',
        setupRequest: (request) => {
          current = scenario.next();
          sent += 1;
          return { ...request, method: 'POST', path: current.path, headers: current.headers, body: current.body };
        },
        onResponse: (status, body, _context, headers) => {
          outcome = classifyResponse(status, body);
          if (current && !policies.has(current.api)) {
            const policy = header(headers, 'ratelimit-policy');
            if (policy) policies.set(current.api, policy);
          }
        },
      },
    ]);
    client.on('response', (status: number, _bytes: number, latencyMs: number) => {
      recorder.recordResponse(current?.api ?? '(unknown)', outcome ?? classifyResponse(status, ''), latencyMs, performance.now());
      outcome = undefined;
    });
    client.on('timeout', () => recorder.recordError('timeout', `no answer within ${options.timeoutSeconds} s`, performance.now(), current?.api));
    client.on('connError', (err: unknown) => recorder.recordError('error', `connection error: ${(err as Error).message}`, performance.now(), current?.api));
  };

  const instance = startAutocannon({
    url: target.origin,
    connections: options.connections,
    duration: options.durationSeconds,
    overallRate: options.rate,
    timeout: options.timeoutSeconds,
    method: 'POST',
    setupClient,
    // Latencies come from the `response` events (recorded above), not from autocannon's corrected histogram.
    ignoreCoordinatedOmission: true,
  });

  let interrupted = false;
  const onAbort = () => {
    interrupted = true;
    instance.stop();
  };
  io.signal?.addEventListener('abort', onAbort, { once: true });
  if (io.signal?.aborted) onAbort();

  let printed = 0;
  const printProgress = (series: readonly SecondSample[]) => {
    if (!io.progress || printed >= series.length) return;
    const soFar = recorder.totalsSoFar();
    for (; printed < series.length; printed++) io.progress(formatProgressLine(series[printed]!, soFar));
  };
  const ticker = setInterval(() => {
    recorder.closeElapsed(performance.now());
    printProgress(recorder.closedSeconds());
  }, 1000);

  try {
    await instance;
  } finally {
    clearInterval(ticker);
    io.signal?.removeEventListener('abort', onAbort);
  }
  const endMs = performance.now();
  const finishedAt = new Date();
  const { series, totals } = recorder.finish(endMs);
  printProgress(series);
  const elapsedSeconds = (endMs - startMs) / 1000;
  const achievedRate = totals.responses / Math.max(0.001, Math.min(elapsedSeconds, options.durationSeconds));

  const notes: string[] = [];
  if (effectiveConnections < options.connections) {
    notes.push(`autocannon ran ${effectiveConnections} connections, not ${options.connections}: it never opens more connections than the rate (req/s).`);
  }
  if (!interrupted && achievedRate < 0.9 * options.rate) {
    const ceiling = (effectiveConnections * 1000) / Math.max(0.01, totals.latency.mean);
    notes.push(
      `Achieved ${achievedRate.toFixed(1)} answers/s, below the target of ${options.rate}. Each connection waits for its answer: ` +
        `${effectiveConnections} connections at a mean latency of ${totals.latency.mean.toFixed(1)} ms allow about ${ceiling.toFixed(0)} req/s. ` +
        'Add connections (--connections), or the server (or this machine) is saturated.',
    );
  }
  for (const [api, counts] of Object.entries(totals.byApi)) {
    const notDefined = counts.faults['SOP-330006'] ?? 0;
    if (notDefined > 0) notes.push(`${api} answered SOP-330006 (method not defined) ${notDefined} times: this server does not implement it (yet).`);
    if (counts.tooMany > 0) {
      const policy = policies.get(api);
      notes.push(
        `${api}: ${counts.tooMany} answers were HTTP 429 (rate limited${policy ? `; server policy ${policy}, q = calls per window w in seconds` : ''}).`,
      );
    }
  }
  if ((totals.faults['XSV-350008'] ?? 0) > 0)
    notes.push('XSV-350008: the server refused the session of the set-up logon on some calls (expired, logged off, or another security token).');
  if (scenario.mix.some((m) => m.kind === 'logon'))
    notes.push('Each Logon opens a session that the server keeps until it expires (SESSION_TTL_MS, 24 h by default).');
  if (interrupted) notes.push('The run was interrupted: the figures cover the part that ran.');

  const autocannonVersion = (require('autocannon/package.json') as { version: string }).version;
  return {
    meta: {
      tool: 'cap-loadtest',
      scenario: options.scenario,
      mix: scenario.mix.map(({ api, weight }) => ({ api, weight })),
      url: options.url,
      user: options.user,
      targetRate: options.rate,
      durationSeconds: options.durationSeconds,
      connections: { requested: options.connections, effective: effectiveConnections },
      timeoutSeconds: options.timeoutSeconds,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      elapsedSeconds,
      node: process.version,
      autocannon: autocannonVersion,
      interrupted,
    },
    sent,
    achievedRate,
    totals,
    series,
    notes,
  };
}
