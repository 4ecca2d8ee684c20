#!/usr/bin/env node
// `npm test`: everything, on a fresh clone. Installs dependencies, brings up PostgreSQL, Redis and Kafka
// (starting what is missing), then runs lint, typecheck, unit tests and integration tests against the real
// infrastructure. Stops what it started. Exits non-zero if any step failed.
//   npm test                 all steps
//   npm test -- --only unit  one step: lint | typecheck | unit | integration
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, color, ensureNodeModules, log } from './lib.mjs';

const { values } = parseArgs({ options: { only: { type: 'string' } }, allowPositionals: true });

const REPORT_DIR = join(ROOT, 'reports', 'jest');
const SERVICE_LOG_DIR = join(ROOT, 'reports', 'service-logs');
// What a service prints when it dies: our fatal log line, V8's own abort messages, a native crash.
const DEATH = /"level":"fatal"|FATAL ERROR|Fatal (?:error|JavaScript)|Segmentation fault|out of memory|Aborted|core dumped/;

/** After failed integration tests: every service that logged its own death, with those lines, so a CI log
 *  says why a process crashed (the service logs themselves stay on the CI machine). */
function printServiceDeaths() {
  if (!existsSync(SERVICE_LOG_DIR)) return;
  const found = [];
  for (const name of readdirSync(SERVICE_LOG_DIR).sort()) {
    const lines = readFileSync(join(SERVICE_LOG_DIR, name), 'utf8').split('\n');
    const at = lines.findIndex((l) => DEATH.test(l));
    if (at >= 0) found.push({ name, lines: lines.slice(Math.max(0, at - 3), at + 12).filter(Boolean) });
  }
  if (found.length === 0) {
    log('no service logged a fatal error or a crash during the integration tests');
    return;
  }
  // Some tests end a service on purpose (bad configuration at start-up): every such log is named, the first
  // eight are shown.
  for (const f of found.slice(0, 8)) {
    log(color('31', `service crash in reports/service-logs/${f.name}:`));
    for (const l of f.lines) process.stdout.write(`  ${l.slice(0, 600)}\n`);
  }
  if (found.length > 8)
    log(
      `also: ${found
        .slice(8)
        .map((f) => f.name)
        .join(', ')}`,
    );
}

/** Test counts from the jest JSON reports this run wrote, and which tests (or whole files) failed. */
function countTests() {
  let passed = 0;
  let failed = 0;
  const failures = [];
  for (const name of ['unit.json', 'integration.json']) {
    const file = join(REPORT_DIR, name);
    if (!existsSync(file)) continue;
    const report = JSON.parse(readFileSync(file, 'utf8'));
    passed += report.numPassedTests;
    failed += report.numFailedTests + (report.numRuntimeErrorTestSuites ?? 0);
    for (const suite of report.testResults ?? []) {
      const where = relative(ROOT, suite.name);
      const tests = (suite.assertionResults ?? []).filter((t) => t.status === 'failed');
      if (tests.length === 0 && suite.status === 'failed')
        failures.push(
          `${where}: ${
            (suite.message ?? '')
              .split('\n')
              .map((l) => l.trim())
              .find((l) => l && !l.includes('Test suite failed to run')) ?? 'failed to run'
          }`,
        );
      for (const t of tests) failures.push(`${where} › ${t.fullName}`);
    }
  }
  return { passed, failed, failures };
}

const STEPS = [
  {
    name: 'lint',
    // Formatting first (Prettier, .prettierrc.json; `npm run format` rewrites), then ESLint with the module boundaries.
    cmds: [
      ['npx', 'prettier', '--check', '--log-level', 'warn', '.'],
      ['npx', 'nx', 'run-many', '-t', 'lint', '--outputStyle=static'],
    ],
  },
  { name: 'typecheck', cmd: ['npx', 'nx', 'run-many', '-t', 'typecheck', '--outputStyle=static'] },
  { name: 'unit', cmd: ['npx', 'jest', '--selectProjects', 'unit', '--ci', '--json', `--outputFile=${REPORT_DIR}/unit.json`] },
  { name: 'build', cmd: ['node', 'infra/scripts/build-app.mjs', 'all'], needs: 'integration' },
  {
    name: 'integration',
    cmd: ['npx', 'jest', '--selectProjects', 'integration', '--ci', '--runInBand', '--json', `--outputFile=${REPORT_DIR}/integration.json`],
    infra: true,
  },
];

async function main() {
  ensureNodeModules();
  rmSync(REPORT_DIR, { recursive: true, force: true });
  rmSync(SERVICE_LOG_DIR, { recursive: true, force: true });
  mkdirSync(REPORT_DIR, { recursive: true });
  const steps = values.only ? STEPS.filter((s) => s.name === values.only || s.needs === values.only) : STEPS;
  if (steps.length === 0) throw new Error(`unknown step ${values.only}`);
  let kafka;
  if (steps.some((s) => s.infra)) {
    const { infraUp } = await import('./infra.mjs');
    kafka = await infraUp();
  }
  const results = [];
  try {
    for (const step of steps) {
      const started = Date.now();
      let ok = true;
      for (const cmd of step.cmds ?? [step.cmd]) {
        log(color('1', `── ${step.name}: ${cmd.join(' ')}`));
        const r = spawnSync(cmd[0], cmd.slice(1), { cwd: ROOT, stdio: 'inherit', env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' } });
        ok &&= r.status === 0;
      }
      results.push({ name: step.name, ok, seconds: Math.round((Date.now() - started) / 1000) });
      if (!ok && step.infra) printServiceDeaths();
      if (!ok && step.needs) break; // a failed build leaves nothing for its dependant to test
    }
  } finally {
    if (kafka?.startedHere) {
      const { stopKafka } = await import('./kafka.mjs');
      await stopKafka();
      log('stopped the Kafka broker this run started');
    }
  }
  for (const r of results) log(`${r.ok ? color('32', 'passed') : color('31', 'FAILED')} ${r.name} (${r.seconds}s)`);
  const failedSteps = results.filter((r) => !r.ok).length;
  const tests = countTests();
  // Near the end, where a truncated CI log still shows it: which tests failed, by file.
  for (const f of tests.failures.slice(0, 20)) log(`${color('31', 'failed')} ${f.slice(0, 400)}`);
  if (tests.failures.length > 20) log(`… and ${tests.failures.length - 20} more (reports/jest/*.json)`);
  // The closing line CI reads: test counts from jest, plus any failed step (lint, typecheck, build).
  process.stdout.write(`tests: ${tests.passed} passed, ${tests.failed + failedSteps} failed\n`);
  process.exit(failedSteps === 0 ? 0 : 1);
}

main().catch((err) => {
  process.stderr.write(`[test] ${err.stack ?? err.message}\n`);
  process.exit(1);
});
