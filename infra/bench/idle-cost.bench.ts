/**
 * P10 — idle cost (docs/targets.md): each service uses ≤ 1 % of a core with no traffic. Run from the repository
 * root after `node infra/scripts/build-app.mjs all`: `npx tsx infra/bench/idle-cost.bench.ts` (also
 * `npm run bench -- idle-cost`); options `--settle <s>` (default 45), `--seconds <s>` per window (default 30),
 * `--reps <n>` windows (default 3), `--before <git revision>`: also build that revision (in a temporary checkout)
 * and run its four services beside the current ones, measured in the same windows, for a before/after ratio.
 * Needs PostgreSQL, Redis and Kafka (`npm run infra:up`); measures the bundles in dist/. Raw figures go to
 * reports/bench/idle-cost-<time>.json.
 *
 * Set-up: the four services from their bundles (startTestPlatform: own databases, topic prefix and Redis prefix),
 * NODE_ENV=production, LOG_LEVEL=info, the production Kafka retry profile. No request is sent. After `--settle`
 * seconds (V8 shrinks the heap a few times in the first ~40 s after start-up, ~0.1–0.2 s of CPU each time: not
 * idle cost), each window reads, for every process, user + system CPU time from /proc/<pid>/stat and the main
 * thread's voluntary context switches from /proc/<pid>/status (each is the event loop going to sleep: how often it
 * wakes up). Kafka's JVM, PostgreSQL and Redis are shown for information (the broker's own idle cost grows with the
 * fetches the services send it). Baseline in the same run: a bare Node process with an HTTP server listening and
 * nothing else (the floor of what a Node service costs, and the measurement's noise).
 * Also printed: the warning and error lines the services wrote while starting (a normal start prints none), and
 * how long each service took to stop on SIGTERM.
 */
import { execFileSync, execSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { commitOf, startTestPlatform, type AppName, type TestPlatform } from '@cap/platform-testing';

const ROOT = join(__dirname, '..', '..');
const APPS: AppName[] = ['local-store', 'cloud-executor', 'staging-sync', 'api-gateway'];
const TARGET_PERCENT = 1;

const { values: args } = parseArgs({
  options: {
    settle: { type: 'string', default: '45' },
    seconds: { type: 'string', default: '30' },
    reps: { type: 'string', default: '3' },
    before: { type: 'string' },
  },
});
const SETTLE_S = Math.max(0, Number(args.settle));
const SECONDS = Math.max(5, Number(args.seconds));
const REPS = Math.max(1, Number(args.reps));

const log = (text: string) => process.stderr.write(`${text}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const CLK_TCK = Number(execSync('getconf CLK_TCK', { encoding: 'utf8' }).trim()) || 100;

/** CPU time (user + system, ms) and the main thread's voluntary context switches of a process; undefined once gone. */
function sample(pid: number): { cpuMs: number; wakeups: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return {
      cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK,
      wakeups: Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0),
    };
  } catch {
    return undefined;
  }
}
const pidsOf = (pattern: string) => execSync(`pgrep -f '${pattern}' || true`, { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);

/** A Node process with an HTTP server listening and nothing else: the baseline. */
function startBareNode(): { pid: number; stop(): void } {
  const child = spawn(process.execPath, ['-e', "require('node:http').createServer((q, s) => s.end()).listen(0, '127.0.0.1')"], { stdio: 'ignore' });
  return { pid: child.pid!, stop: () => child.kill('SIGTERM') };
}

const isWarning = (line: Record<string, unknown>) => ['warn', 'error', 'fatal'].includes(String(line['level'])) || 'raw' in line;

/** A checkout of `revision` in a temporary folder with its bundles built (dist/), sharing this repository's node_modules. */
function buildRevision(revision: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cap-idle-before-'));
  execSync(`git archive ${JSON.stringify(revision)} | tar -x -C ${JSON.stringify(dir)}`, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(process.execPath, [join(dir, 'infra', 'scripts', 'build-app.mjs'), 'all'], { cwd: dir, stdio: 'inherit' });
  return dir;
}

async function main(): Promise<void> {
  const commit = commitOf(ROOT);
  log(`idle cost: settle ${SETTLE_S} s, ${REPS} windows of ${SECONDS} s; commit ${commit}; load average ${loadavg()[0]!.toFixed(2)}`);
  const env = { NODE_ENV: 'production', LOG_LEVEL: 'info', KAFKA_RETRY_PROFILE: 'default' };
  const beforeDir = args.before ? buildRevision(args.before) : undefined;
  const platforms: { label: string; platform: TestPlatform }[] = [];
  const bare = startBareNode();
  try {
    platforms.push({ label: '', platform: await startTestPlatform({ apps: APPS, env }) });
    if (beforeDir) platforms.push({ label: ` (before: ${args.before})`, platform: await startTestPlatform({ apps: APPS, env, root: beforeDir }) });
    log(`started; settling ${SETTLE_S} s`);
    await sleep(SETTLE_S * 1000);
    // Start-up, as far as the log goes: everything written until the end of the settling time.
    const platform = platforms[0]!.platform;
    const startWarnings = [...platform.procs].flatMap(([app, proc]) => proc.logs.filter(isWarning).map((line) => ({ app, line })));
    const beforeWarnings = platforms[1] ? [...platforms[1].platform.procs].reduce((n, [, proc]) => n + proc.logs.filter(isWarning).length, 0) : undefined;
    const watched = new Map<string, number[]>([
      ...platforms.flatMap(({ label, platform: p }) => APPS.map((app) => [`${app}${label}`, [p.procs.get(app)!.pid]] as [string, number[]])),
      ['baseline: bare Node process', [bare.pid]],
      ['(info) Kafka broker (JVM)', pidsOf('kafka.Kafka')],
      ['(info) PostgreSQL (all processes)', pidsOf('postgres')],
      ['(info) Redis', pidsOf('redis-server')],
    ]);
    const windows: { loadAverage: number; percent: Record<string, number>; wakeupsPerSecond: Record<string, number> }[] = [];
    for (let rep = 1; rep <= REPS; rep++) {
      const first = new Map([...watched].map(([name, pids]) => [name, pids.map(sample)]));
      const t0 = performance.now();
      await sleep(SECONDS * 1000);
      const seconds = (performance.now() - t0) / 1000;
      const percent: Record<string, number> = {};
      const wakeupsPerSecond: Record<string, number> = {};
      for (const [name, pids] of watched) {
        let cpuMs = 0;
        let wakeups = 0;
        pids.forEach((pid, i) => {
          const a = first.get(name)![i];
          const b = sample(pid);
          if (!a || !b) return;
          cpuMs += b.cpuMs - a.cpuMs;
          wakeups += b.wakeups - a.wakeups;
        });
        percent[name] = (cpuMs / (seconds * 1000)) * 100;
        wakeupsPerSecond[name] = wakeups / seconds;
      }
      windows.push({ loadAverage: loadavg()[0]!, percent, wakeupsPerSecond });
      log(`window ${rep}/${REPS} (load average ${loadavg()[0]!.toFixed(2)}): ${APPS.map((a) => `${a} ${percent[a]!.toFixed(2)} %`).join(', ')}`);
    }

    const stopMs: Record<string, number> = {};
    await Promise.all(
      platforms.flatMap(({ label, platform: p }) =>
        APPS.map(async (app) => {
          const t0 = performance.now();
          await p.procs.get(app)!.stop();
          stopMs[`${app}${label}`] = Math.round(performance.now() - t0);
        }),
      ),
    );

    const date = new Date().toISOString();
    const rows = [...watched.keys()].map((name) => {
      const p = windows.map((w) => w.percent[name]!);
      const wk = windows.map((w) => w.wakeupsPerSecond[name]!);
      const isService = (APPS as string[]).includes(name); // the current build's
      const verdict = isService ? (median(p) <= TARGET_PERCENT ? `≤ ${TARGET_PERCENT} %: met` : `≤ ${TARGET_PERCENT} %: **missed**`) : '';
      return { name, medianPercent: median(p), minPercent: Math.min(...p), maxPercent: Math.max(...p), wakeupsPerSecond: median(wk), verdict };
    });
    const out = [
      `Idle cost (P10) — ${date}, commit ${commit}, Node ${process.version}, ${cpus().length} cores, load average ${windows.map((w) => w.loadAverage.toFixed(1)).join(' / ')}`,
      `Command: npx tsx infra/bench/idle-cost.bench.ts --settle ${SETTLE_S} --seconds ${SECONDS} --reps ${REPS}${args.before ? ` --before ${args.before}` : ''}`,
      '',
      '| process | CPU, % of one core (median) | range over the windows | event-loop wake-ups/s | target |',
      '|---|---:|---:|---:|---|',
      ...rows.map(
        (r) =>
          `| ${r.name} | ${r.medianPercent.toFixed(2)} | ${r.minPercent.toFixed(2)} – ${r.maxPercent.toFixed(2)} | ${r.name.startsWith('(info)') ? '' : r.wakeupsPerSecond.toFixed(0)} | ${r.verdict} |`,
      ),
      '',
      ...platforms.map(
        ({ label }) =>
          `Four services${label} together: ${(APPS.reduce((n, a) => n + rows.find((r) => r.name === `${a}${label}`)!.medianPercent, 0) / 100).toFixed(3)} cores.`,
      ),
      ...(platforms[1]
        ? [
            `Ratio current / before (medians): ${APPS.map((a) => `${a} ${(rows.find((r) => r.name === a)!.medianPercent / rows.find((r) => r.name === `${a}${platforms[1]!.label}`)!.medianPercent).toFixed(2)}`).join(', ')}.`,
          ]
        : []),
      `Stop on SIGTERM: ${Object.entries(stopMs)
        .map(([name, ms]) => `${name} ${ms} ms`)
        .join(', ')}.`,
      ...(beforeWarnings === undefined ? [] : [`Warning or error lines at start-up, before: ${beforeWarnings}.`]),
      `Warning or error lines at start-up: ${startWarnings.length}${startWarnings.length ? ':' : ' (none).'}`,
      ...startWarnings.map(({ app, line }) => `  ${app}: ${JSON.stringify(line).slice(0, 400)}`),
    ].join('\n');
    process.stdout.write(`${out}\n`);
    const dir = join(ROOT, 'reports', 'bench');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `idle-cost-${date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(
      file,
      `${JSON.stringify({ date, commit, before: args.before, node: process.version, cores: cpus().length, settleSeconds: SETTLE_S, seconds: SECONDS, windows, rows, stopMs, startWarnings }, null, 2)}\n`,
    );
    log(`raw figures: ${file.slice(ROOT.length + 1)}`);
  } finally {
    bare.stop();
    await Promise.allSettled(platforms.map(({ platform }) => platform.stop()));
    if (beforeDir) rmSync(beforeDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`idle-cost bench failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
