#!/usr/bin/env node
// `npm run bench`: runs every benchmark (`{apps,libs,infra}/**/bench/*.bench.ts`) one after the other with tsx and prints
// their reports. Benchmarks are not tests: CI does not run them; figures go to docs/benchmarks.md with the
// command that produced them. `npm run bench -- <filter>` runs the benchmarks whose path contains <filter>.
//
// `npm run bench -- --quick`: the whole ratio table in a few minutes (docs/benchmarks.md, "Quick table"): the
// benchmarks that state their figures against a same-run baseline, at small sizes, then one table of every
// figure, its baseline, the ratio and the target, with the date, the commit and how busy the machine was.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { ROOT, ensureNodeModules, log } from './lib.mjs';
import { machineLine, probeMachine } from './machine-probe.mjs';

function findBenches(dir, out = []) {
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry.startsWith('.') || entry === 'dist') continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) findBenches(path, out);
    else if (entry.endsWith('.bench.ts') && dir.endsWith('bench')) out.push(path);
  }
  return out;
}

/** The quick table's benchmarks and their small sizes (each writes reports/bench/ratios/<name>.json). */
const QUICK = [
  { bench: 'libs/campaign/query/bench/query.bench.ts', args: [] },
  { bench: 'apps/api-gateway/bench/gateway-overhead.bench.ts', args: ['--reps', '1', '--seconds', '5'] },
  { bench: 'apps/staging-sync/bench/staging-pipeline.bench.ts', args: ['--rows', '150000', '--seconds', '8'] },
  { bench: 'apps/cloud-executor/bench/message-center.bench.ts', args: ['--events', '4000', '--unitary', '1500', '--runs', '1'] },
];

/** Busy and total jiffies of the whole machine (/proc/stat), to say how busy it was during each benchmark. */
function cpuTimes() {
  if (!existsSync('/proc/stat')) return undefined;
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = fields[3] + (fields[4] ?? 0);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

function runBench(path, args) {
  log(`── ${relative(ROOT, path)} ${args.join(' ')}`);
  const before = cpuTimes();
  const started = Date.now();
  const r = spawnSync('npx', ['tsx', path, ...args], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } });
  const after = cpuTimes();
  const busy = before && after ? (after.busy - before.busy) / Math.max(1, after.total - before.total) : NaN;
  return { ok: r.status === 0, seconds: (Date.now() - started) / 1000, busy };
}

const fmt = (n, unit) => {
  if (!Number.isFinite(n)) return 'n/a';
  const digits = unit === 'ms' || unit === 's' ? (n < 10 ? 2 : 1) : 0;
  return `${n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${unit}`;
};

/** Cores' worth used per process group in a measurement: "staging-sync 0.67, postgresql 0.65, …". */
const coresLine = (cpu) =>
  Object.entries(cpu.coresUsed)
    .filter(([, c]) => c >= 0.01)
    .sort((a, b) => b[1] - a[1])
    .map(([g, c]) => `${g} ${c.toFixed(2)}`)
    .join(', ');

/** The CPU account of the staging pipeline's measurements of this run (reports/bench/staging-pipeline.json), if any. */
function cpuAccount(startedAt) {
  const file = join(ROOT, 'reports', 'bench', 'staging-pipeline.json');
  if (!existsSync(file) || statSync(file).mtimeMs < startedAt) return [];
  const report = JSON.parse(readFileSync(file, 'utf8'));
  const out = ['', 'Where the CPU went (cores used per process group; the machine has the cores given above):', ''];
  const add = (label, cpu, extra = '') => cpu && out.push(`- ${label}: machine ${Math.round(cpu.machineBusy * 100)} % busy; ${coresLine(cpu)}${extra}`);
  add('P3, one staging-sync worker', report.p3?.cpu);
  add('P4, two workers', report.p4?.cpu);
  add('P2, Ingest paced', report.p2?.cpu);
  const perCall = report.p2?.cpuMsPerCallAtSaturation;
  add('P2, Ingest at saturation', report.p2?.saturation?.cpu, Number.isFinite(perCall) ? `; ${perCall.toFixed(2)} ms of CPU (all processes) per Ingest` : '');
  return out.length > 3 ? out : [];
}

function quickTable(runs, startedAt, machine) {
  const dir = join(ROOT, 'reports', 'bench', 'ratios');
  const reports = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.json') && statSync(join(dir, f)).mtimeMs >= startedAt)
        .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')))
    : [];
  const first = reports[0]?.run;
  const lines = [
    '',
    `Quick benchmark table — ${first ? `${first.date.slice(0, 16).replace('T', ' ')} UTC, commit ${first.commit}, Node ${first.node}` : new Date().toISOString()}, ` +
      `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), load average at the end ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' / ')}`,
    '',
    `${machineLine(machine)} (infra/scripts/machine-probe.mjs, before the benchmarks)`,
    '',
    '| id | measure | figure | same-run baseline | ratio | target | met |',
    '|---|---|---:|---|---:|---|---|',
  ];
  for (const report of reports) {
    for (const row of report.rows) {
      const baseline = row.baseline ? `${row.baseline.measure}: ${fmt(row.baseline.value, row.baseline.unit)}` : '—';
      const ratio = row.ratio === undefined ? '—' : row.ratioAs === 'times' ? `${row.ratio.toFixed(2)}×` : `${(row.ratio * 100).toFixed(1)} %`;
      const met = row.met === null ? '' : row.met ? 'met' : '**missed**';
      lines.push(`| ${row.id} | ${row.measure} | ${fmt(row.value, row.unit)} | ${baseline} | ${ratio} | ${row.goal} | ${met} |`);
    }
  }
  lines.push(...cpuAccount(startedAt));
  lines.push('', 'How busy the machine was (all processes, /proc/stat) while each benchmark ran:', '');
  for (const r of runs)
    lines.push(`- ${r.bench}: ${r.ok ? '' : 'FAILED, '}${r.seconds.toFixed(0)} s, ${Number.isFinite(r.busy) ? `${Math.round(r.busy * 100)} % busy` : 'n/a'}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

ensureNodeModules();
const argv = process.argv.slice(2);
if (argv.includes('--quick')) {
  if (!existsSync(join(ROOT, 'dist', 'apps', 'api-gateway', 'main.js'))) log('building the bundles first (node infra/scripts/build-app.mjs all)');
  spawnSync(process.execPath, [join(ROOT, 'infra', 'scripts', 'build-app.mjs'), 'all'], { cwd: ROOT, stdio: 'inherit' });
  rmSync(join(ROOT, 'reports', 'bench', 'ratios'), { recursive: true, force: true });
  // The machine's kind, measured before anything else runs on it.
  const machine = await probeMachine();
  log(machineLine(machine));
  const startedAt = Date.now();
  const runs = QUICK.map(({ bench, args }) => ({ bench, ...runBench(join(ROOT, bench), args) }));
  quickTable(runs, startedAt, machine);
  process.exit(runs.every((r) => r.ok) ? 0 : 1);
}
const filter = argv[0] ?? '';
const benches = ['apps', 'libs', 'infra']
  .flatMap((d) => findBenches(join(ROOT, d)))
  .filter((p) => p.includes(filter))
  .sort();
if (benches.length === 0) {
  log(`no benchmark matches '${filter}'`);
  process.exit(1);
}
let failed = 0;
for (const bench of benches) if (!runBench(bench, []).ok) failed++;
process.exit(failed === 0 ? 0 : 1);
