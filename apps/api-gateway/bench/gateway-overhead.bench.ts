/**
 * P1 — gateway overhead (docs/targets.md): auth + rate limit on a call with no downstream
 * (xtk:session#GetServerTime with a valid session) through the real gateway, against a bare Express handler
 * answering a canned GetServerTime response. Run: `npx tsx apps/api-gateway/bench/gateway-overhead.bench.ts`
 * (also `npm run bench -- gateway-overhead`); options `--reps <n>` (default 3), `--seconds <s>` (default 10).
 *
 * Set-up: the platform as OS processes on the real Kafka/PostgreSQL/Redis (startTestPlatform: local-store and
 * cloud-executor are needed for the Logon; they are idle during the measurements), the gateway from its bundle
 * (dist/apps/api-gateway/main.js) with NODE_ENV=production and a RATE_LIMITS_FILE that gives GetServerTime a
 * limit of 100,000/s: every call is decided by the Redis sliding window, none is refused. The bare server is its
 * own Node process too (bare-soap.server.ts). The load generator runs in this process, on the same 2-core
 * machine as both servers and Redis.
 *
 * Each repetition:
 *  1. saturation of bare Express and of the gateway, back to back (alternating which goes first): autocannon,
 *     20 connections, closed loop → S_bare, S_gateway and their ratio;
 *  2. latency at S_bare / 2, bare and gateway (alternating which goes first), with the paced open-loop
 *     generator (paced.load.ts) → p50, p99; "added" = gateway − bare;
 *  3. (information) the same at S_gateway / 2, a rate the gateway can sustain: when the gateway's throughput
 *     is below 50 % of bare Express, step 2 overloads it and its latency there is queueing, not overhead;
 *  4. gateway VmRSS (/proc/<pid>/status) at the end (and bare Express's, for comparison).
 * Also recorded: CPU time per request of each server process, of Redis (INFO cpu) and of this process, so
 * the report can say where the time goes. Medians over the repetitions, with ranges.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from 'redis';
import { benchRunInfo, recordRatios, startTestPlatform, testEndpoints, type TestPlatform } from '@cap/platform-testing';
import { measureSaturation, type SaturationResult } from './autocannon.saturation';
import { runPaced, type PacedResult } from './paced.load';
import { ENVELOPE_OPEN, logOn, type Tokens } from './soap.logon';

const ROOT = join(__dirname, '..', '..', '..');
const CONNECTIONS = 20;
const TARGETS = { addedP50Ms: 1, addedP99Ms: 5, throughputPercent: 50, rssMb: 150 };
const SOAP_PATH = '/nl/jsp/soaprouter.jsp?soapAction=xtk%3Asession%23GetServerTime';

const { values: args } = parseArgs({ options: { reps: { type: 'string', default: '3' }, seconds: { type: 'string', default: '10' } } });
const REPS = Math.max(1, Number(args.reps));
const SECONDS = Math.max(2, Number(args.seconds));

const log = (text: string) => process.stderr.write(`${text}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const percentile = (sorted: Float64Array, p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN);

// ── processes ───────────────────────────────────────────────────────────────────────────────────────────

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** User + system CPU time of a process, in ms (/proc/<pid>/stat). */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

function memoryOf(pid: number): { rssMb: number; hwmMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

interface BareServer {
  pid: number;
  url: string;
  stop(): Promise<void>;
}

async function startBareServer(): Promise<BareServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'bare-soap.server.ts')], {
    cwd: ROOT,
    env: { NODE_ENV: 'production' }, // nothing inherited: same settings whoever runs it
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /\{"port":(\d+)\}/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
  });
  return {
    pid: child.pid!,
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

// ── requests ────────────────────────────────────────────────────────────────────────────────────────────

/** GetServerTime as the SDK sends it with a session: tokens in headers, cookie, SOAP header and first param. */
function getServerTimeCall(tokens: Tokens): { headers: Record<string, string>; body: string } {
  const body =
    `${ENVELOPE_OPEN}<SOAP-ENV:Header><Cookie>__sessiontoken=${tokens.session}</Cookie><X-Security-Token>${tokens.security}</X-Security-Token></SOAP-ENV:Header>` +
    '<SOAP-ENV:Body><m:GetServerTime xmlns:m="urn:xtk:session" SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">' +
    `<sessiontoken xsi:type="xsd:string">${tokens.session}</sessiontoken></m:GetServerTime></SOAP-ENV:Body></SOAP-ENV:Envelope>`;
  return {
    headers: {
      'Content-Type': 'text/xml; charset=utf-8',
      SOAPAction: 'xtk:session#GetServerTime',
      'X-Session-Token': tokens.session,
      'X-Security-Token': tokens.security,
      Cookie: `__sessiontoken=${tokens.session}`,
    },
    body,
  };
}

function rawRequest(url: string, call: { headers: Record<string, string>; body: string }): Buffer {
  const { host } = new URL(url);
  const body = Buffer.from(call.body);
  const head = [
    `POST ${SOAP_PATH} HTTP/1.1`,
    `Host: ${host}`,
    'Connection: keep-alive',
    ...Object.entries(call.headers).map(([k, v]) => `${k}: ${v}`),
    `Content-Length: ${body.length}`,
  ];
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), body]);
}

const isTimeAnswer = (body: string) => body.includes('<GetServerTimeResponse') && !body.includes('SOAP-ENV:Fault');

// ── measurements ────────────────────────────────────────────────────────────────────────────────────────

interface Target {
  name: 'bare' | 'gateway';
  pid: number;
  url: string;
}

interface CpuSample {
  serverMsPerReq: number;
  redisMsPerReq: number;
  generatorMsPerReq: number;
}

async function withCpu<T extends { total?: number; completed?: number }>(
  target: Target,
  redisCpuMs: () => Promise<number>,
  run: () => Promise<T>,
): Promise<T & { cpu: CpuSample }> {
  const server0 = cpuMsOf(target.pid);
  const redis0 = await redisCpuMs();
  const gen0 = process.cpuUsage();
  const result = await run();
  const gen = process.cpuUsage(gen0);
  const n = Math.max(1, result.total ?? result.completed ?? 1);
  return {
    ...result,
    cpu: {
      serverMsPerReq: (cpuMsOf(target.pid) - server0) / n,
      redisMsPerReq: ((await redisCpuMs()) - redis0) / n,
      generatorMsPerReq: (gen.user + gen.system) / 1000 / n,
    },
  };
}

interface Rep {
  bareSat: SaturationResult & { cpu: CpuSample };
  gwSat: SaturationResult & { cpu: CpuSample };
  rate: number;
  bare: PacedSummary;
  gateway: PacedSummary;
  /** Step 5: both at half of the gateway's saturation. */
  lowRate: number;
  bareLow: PacedSummary;
  gatewayLow: PacedSummary;
  rssMb: number;
  hwmMb: number;
  bareRssMb: number;
  loadAverage: number;
}

interface PacedSummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  completed: number;
  achievedRate: number;
  problems: string[];
  cpu: CpuSample;
}

function summarizePaced(name: string, r: PacedResult & { cpu: CpuSample }): PacedSummary {
  const problems: string[] = [];
  if (r.errors) problems.push(`${r.errors} errors`);
  if (r.non200) problems.push(`${r.non200} non-200`);
  if (r.badBodies) problems.push(`${r.badBodies} not a GetServerTime answer`);
  if (r.queued) problems.push(`${r.queued} requests waited for a connection`);
  if (r.completed < r.scheduled) problems.push(`${r.scheduled - r.completed} unanswered`);
  if (r.lateSends > r.scheduled * 0.01) problems.push(`${r.lateSends} sent > 2 ms late`);
  if (problems.length) log(`  ! ${name}: ${problems.join(', ')}`);
  return {
    p50: percentile(r.latencies, 50),
    p90: percentile(r.latencies, 90),
    p99: percentile(r.latencies, 99),
    p999: percentile(r.latencies, 99.9),
    max: r.latencies[r.latencies.length - 1] ?? NaN,
    completed: r.completed,
    achievedRate: r.achievedRate,
    problems,
    cpu: r.cpu,
  };
}

async function main(): Promise<void> {
  const runInfo = benchRunInfo(ROOT);
  if (!existsSync(join(ROOT, 'dist', 'apps', 'api-gateway', 'main.js'))) {
    throw new Error('dist/apps/api-gateway/main.js is missing: run `npm run build` first (the benchmark measures the bundle production runs)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'cap-p1-'));
  const limitsFile = join(dir, 'rate-limits.json');
  writeFileSync(limitsFile, JSON.stringify({ windowMs: 1000, default: { limit: 100 }, apis: { 'xtk:session#GetServerTime': { limit: 100_000 } } }));

  const redis = createClient({ url: testEndpoints().redisUrl });
  await redis.connect();
  const redisCpuMs = async () => {
    const info = await redis.info('cpu');
    const v = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
    return (v('used_cpu_user') + v('used_cpu_sys')) * 1000;
  };

  let platform: TestPlatform | undefined;
  let bare: BareServer | undefined;
  try {
    log('starting the platform (local-store, cloud-executor, api-gateway) and the bare Express server…');
    platform = await startTestPlatform({ env: { NODE_ENV: 'production' }, envFor: { 'api-gateway': { RATE_LIMITS_FILE: limitsFile } } });
    bare = await startBareServer();
    const gatewayProc = platform.procs.get('api-gateway')!;
    const gateway: Target = { name: 'gateway', pid: gatewayProc.pid, url: platform.gatewayUrl };
    const bareTarget: Target = { name: 'bare', pid: bare.pid, url: bare.url };
    const tokens = await logOn(gateway.url);
    const call = getServerTimeCall(tokens);

    // The path measured really authenticates and decides: the limiter names the policy, a bad token is refused.
    const check = await fetch(`${gateway.url}${SOAP_PATH}`, { method: 'POST', headers: call.headers, body: call.body });
    const checkBody = await check.text();
    if (!isTimeAnswer(checkBody) || !(check.headers.get('ratelimit-policy') ?? '').includes('"xtk:session#GetServerTime";q=100000')) {
      throw new Error(
        `GetServerTime through the gateway is not the expected path: ${check.status} ${check.headers.get('ratelimit-policy')} ${checkBody.slice(0, 300)}`,
      );
    }
    const forged = getServerTimeCall({ session: `${tokens.session.slice(0, -4)}0000`, security: tokens.security });
    const refused = await (await fetch(`${gateway.url}${SOAP_PATH}`, { method: 'POST', headers: forged.headers, body: forged.body })).text();
    if (!refused.includes('XSV-350008')) throw new Error(`a forged session was not refused: ${refused.slice(0, 300)}`);

    const saturate = (t: Target, seconds = SECONDS) =>
      withCpu(t, redisCpuMs, () =>
        measureSaturation({ url: t.url, path: SOAP_PATH, connections: CONNECTIONS, seconds, headers: call.headers, body: call.body, verifyBody: isTimeAnswer }),
      );
    const paced = async (t: Target, rate: number) =>
      summarizePaced(
        t.name,
        await withCpu(t, redisCpuMs, () =>
          runPaced({
            host: '127.0.0.1',
            port: Number(new URL(t.url).port),
            request: rawRequest(t.url, call),
            rate,
            durationMs: SECONDS * 1000,
            verifyBody: isTimeAnswer,
          }),
        ),
      );

    log('warm-up: 3 s of saturation on each');
    await saturate(bareTarget, 3);
    await saturate(gateway, 3);

    const reps: Rep[] = [];
    for (let i = 0; i < REPS; i++) {
      log(`repetition ${i + 1}/${REPS}`);
      // Both saturations back to back, alternating which goes first, so that machine noise hits the ratio least.
      const first = i % 2 === 0 ? bareTarget : gateway;
      const sat: Partial<Record<Target['name'], SaturationResult & { cpu: CpuSample }>> = {};
      for (const t of [first, first === bareTarget ? gateway : bareTarget]) sat[t.name] = await saturate(t);
      const bareSat = sat.bare!;
      const gwSat = sat.gateway!;
      log(
        `  saturation: bare ${bareSat.rps.toFixed(0)} req/s, gateway ${gwSat.rps.toFixed(0)} req/s = ${((100 * gwSat.rps) / bareSat.rps).toFixed(1)} %` +
          ` (errors ${bareSat.errors}/${gwSat.errors}, non-2xx ${bareSat.non2xx}/${gwSat.non2xx}, bad answers ${bareSat.mismatches}/${gwSat.mismatches})`,
      );
      const rate = Math.floor(bareSat.rps / 2);
      const order: Target[] = i % 2 === 0 ? [bareTarget, gateway] : [gateway, bareTarget];
      const pair = async (rate: number): Promise<Record<Target['name'], PacedSummary>> => {
        const out: Partial<Record<Target['name'], PacedSummary>> = {};
        for (const t of order) {
          const l = (out[t.name] = await paced(t, rate));
          log(
            `  ${t.name.padEnd(7)} at ${rate}/s: p50 ${l.p50.toFixed(3)} ms  p99 ${l.p99.toFixed(3)} ms  (${l.completed} answers, ${l.achievedRate.toFixed(0)}/s)`,
          );
        }
        return out as Record<Target['name'], PacedSummary>;
      };
      log(`  paced at half of bare saturation, ${rate} req/s`);
      const atHalfBare = await pair(rate);
      const lowRate = Math.floor(gwSat.rps / 2);
      log(`  (information) paced at half of the gateway's saturation, ${lowRate} req/s`);
      const atHalfGateway = await pair(lowRate);
      const mem = memoryOf(gateway.pid);
      const bareMem = memoryOf(bareTarget.pid);
      log(`  RSS: gateway ${mem.rssMb.toFixed(1)} MB (peak ${mem.hwmMb.toFixed(1)}), bare ${bareMem.rssMb.toFixed(1)} MB`);
      reps.push({
        bareSat,
        gwSat,
        rate,
        bare: atHalfBare.bare,
        gateway: atHalfBare.gateway,
        lowRate,
        bareLow: atHalfGateway.bare,
        gatewayLow: atHalfGateway.gateway,
        rssMb: mem.rssMb,
        hwmMb: mem.hwmMb,
        bareRssMb: bareMem.rssMb,
        loadAverage: loadavg()[0]!,
      });
    }

    // ── report ──
    const stat = (pick: (r: Rep) => number) => {
      const xs = reps.map(pick);
      return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), all: xs };
    };
    const fmt = (s: { median: number; min: number; max: number }, digits: number, unit = '') =>
      `${s.median.toFixed(digits)}${unit} (${s.min.toFixed(digits)} – ${s.max.toFixed(digits)})`;
    const addedP50 = stat((r) => r.gateway.p50 - r.bare.p50);
    const addedP99 = stat((r) => r.gateway.p99 - r.bare.p99);
    const throughput = stat((r) => (100 * r.gwSat.rps) / r.bareSat.rps);
    const rss = stat((r) => r.rssMb);
    const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
    const rows: [string, string, string][] = [
      [
        'bare Express saturation (req/s)',
        fmt(
          stat((r) => r.bareSat.rps),
          0,
        ),
        '',
      ],
      [
        'gateway saturation (req/s)',
        fmt(
          stat((r) => r.gwSat.rps),
          0,
        ),
        '',
      ],
      [
        'paced rate = bare saturation / 2 (req/s)',
        fmt(
          stat((r) => r.rate),
          0,
        ),
        '',
      ],
      [
        'bare p50 / p99 at that rate (ms)',
        `${fmt(
          stat((r) => r.bare.p50),
          3,
        )} / ${fmt(
          stat((r) => r.bare.p99),
          3,
        )}`,
        '',
      ],
      [
        'gateway p50 / p99 at that rate (ms)',
        `${fmt(
          stat((r) => r.gateway.p50),
          3,
        )} / ${fmt(
          stat((r) => r.gateway.p99),
          3,
        )}`,
        '',
      ],
      ['(a) added p50 (ms)', fmt(addedP50, 3), `≤ ${TARGETS.addedP50Ms} ms: ${verdict(addedP50.median <= TARGETS.addedP50Ms)}`],
      ['(a) added p99 (ms)', fmt(addedP99, 3), `≤ ${TARGETS.addedP99Ms} ms: ${verdict(addedP99.median <= TARGETS.addedP99Ms)}`],
      [
        '(b) gateway throughput, % of bare',
        fmt(throughput, 1, ' %'),
        `≥ ${TARGETS.throughputPercent} %: ${verdict(throughput.median >= TARGETS.throughputPercent)}`,
      ],
      ['(c) gateway RSS at the end (MB)', fmt(rss, 1), `≤ ${TARGETS.rssMb} MB: ${verdict(rss.median <= TARGETS.rssMb)}`],
      [
        'gateway peak RSS, VmHWM (MB)',
        fmt(
          stat((r) => r.hwmMb),
          1,
        ),
        '',
      ],
      [
        'bare Express RSS at the end (MB)',
        fmt(
          stat((r) => r.bareRssMb),
          1,
        ),
        '',
      ],
      [
        '(info) rate = gateway saturation / 2 (req/s)',
        fmt(
          stat((r) => r.lowRate),
          0,
        ),
        '',
      ],
      [
        '(info) bare p50 / p99 at that rate (ms)',
        `${fmt(
          stat((r) => r.bareLow.p50),
          3,
        )} / ${fmt(
          stat((r) => r.bareLow.p99),
          3,
        )}`,
        '',
      ],
      [
        '(info) gateway p50 / p99 at that rate (ms)',
        `${fmt(
          stat((r) => r.gatewayLow.p50),
          3,
        )} / ${fmt(
          stat((r) => r.gatewayLow.p99),
          3,
        )}`,
        '',
      ],
      [
        '(info) added p50 / p99 at that rate (ms)',
        `${fmt(
          stat((r) => r.gatewayLow.p50 - r.bareLow.p50),
          3,
        )} / ${fmt(
          stat((r) => r.gatewayLow.p99 - r.bareLow.p99),
          3,
        )}`,
        '',
      ],
      [
        'CPU per request at saturation, bare (ms)',
        fmt(
          stat((r) => r.bareSat.cpu.serverMsPerReq),
          3,
        ),
        '',
      ],
      [
        'CPU per request at saturation, gateway (ms)',
        fmt(
          stat((r) => r.gwSat.cpu.serverMsPerReq),
          3,
        ),
        '',
      ],
      [
        'CPU per request at saturation, Redis (ms)',
        fmt(
          stat((r) => r.gwSat.cpu.redisMsPerReq),
          3,
        ),
        '',
      ],
      [
        'CPU per request, load generator, bare / gateway (ms)',
        `${fmt(
          stat((r) => r.bareSat.cpu.generatorMsPerReq),
          3,
        )} / ${fmt(
          stat((r) => r.gwSat.cpu.generatorMsPerReq),
          3,
        )}`,
        '',
      ],
      [
        'machine load average (1 min) after each repetition',
        fmt(
          stat((r) => r.loadAverage),
          2,
        ),
        '',
      ],
    ];
    const table = ['| measure | median (range) over ' + REPS + ' repetitions | target |', '|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join(
      '\n',
    );
    const problems = reps.flatMap((r, i) => {
      const parts = [
        ['bare at S_bare/2', r.bare],
        ['gateway at S_bare/2', r.gateway],
        ['bare at S_gateway/2', r.bareLow],
        ['gateway at S_gateway/2', r.gatewayLow],
      ] as const;
      const text = parts.filter(([, l]) => l.problems.length).map(([name, l]) => `${name}: ${l.problems.join(', ')}`);
      return text.length ? [`repetition ${i + 1} — ${text.join('; ')}`] : [];
    });
    const overloaded = reps.filter((r) => r.gwSat.rps < r.rate).length;
    if (overloaded) {
      problems.unshift(
        `in ${overloaded} of ${REPS} repetitions the gateway's saturation was below S_bare/2: at that rate it is overloaded and (a) measures its queue`,
      );
    }
    process.stdout.write(
      `\nP1 gateway overhead — ${REPS} × ${SECONDS} s per measurement, ${CONNECTIONS} connections for saturation, Node ${process.version}\n\n${table}\n`,
    );
    if (problems.length) process.stdout.write(`\nPaced-run remarks (client side):\n${problems.map((p) => `- ${p}`).join('\n')}\n`);

    const outDir = join(ROOT, 'reports', 'bench');
    mkdirSync(outDir, { recursive: true });
    const outFile = join(outDir, `gateway-overhead-${new Date().toISOString().replace(/[-:.]/g, '')}.json`);
    writeFileSync(outFile, `${JSON.stringify({ reps, seconds: SECONDS, connections: CONNECTIONS, node: process.version }, null, 2)}\n`);
    process.stdout.write(`\nraw figures: ${outFile}\n`);
    const bareRps = stat((r) => r.bareSat.rps).median;
    const gatewayRps = stat((r) => r.gwSat.rps).median;
    recordRatios(ROOT, 'gateway-overhead', runInfo, [
      {
        id: 'P1',
        measure: 'gateway saturation, GetServerTime (auth + rate limit, no downstream)',
        value: gatewayRps,
        unit: 'req/s',
        baseline: { measure: 'bare Express handler', value: bareRps, unit: 'req/s' },
        ratio: gatewayRps / bareRps,
        goal: `≥ ${TARGETS.throughputPercent} % of bare Express`,
        met: throughput.median >= TARGETS.throughputPercent,
      },
      {
        id: 'P1',
        measure: "added p99 at half of bare Express's saturation",
        value: addedP99.median,
        unit: 'ms',
        baseline: { measure: 'bare Express p99 at that rate', value: stat((r) => r.bare.p99).median, unit: 'ms' },
        goal: `≤ ${TARGETS.addedP99Ms} ms (p50 ≤ ${TARGETS.addedP50Ms} ms: ${addedP50.median.toFixed(3)} ms)`,
        met: addedP99.median <= TARGETS.addedP99Ms && addedP50.median <= TARGETS.addedP50Ms,
      },
      {
        id: 'P1',
        measure: 'gateway RSS at the end',
        value: rss.median,
        unit: 'MB',
        baseline: { measure: 'bare Express RSS', value: stat((r) => r.bareRssMb).median, unit: 'MB' },
        goal: `≤ ${TARGETS.rssMb} MB`,
        met: rss.median <= TARGETS.rssMb,
      },
    ]);
  } finally {
    await bare?.stop();
    await platform?.stop();
    await redis.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
