#!/usr/bin/env node
// `npm test`: everything, on a fresh clone. Installs dependencies, brings up PostgreSQL, Redis and Kafka
// (starting what is missing), then runs lint, typecheck, unit tests and integration tests against the real
// infrastructure. Stops what it started. Exits non-zero if any step failed.
//   npm test                 all steps
//   npm test -- --only unit  one step: lint | typecheck | unit | integration
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, color, ensureNodeModules, log } from './lib.mjs';

const { values } = parseArgs({ options: { only: { type: 'string' } }, allowPositionals: true });

const REPORT_DIR = join(ROOT, 'reports', 'jest');

/** Test counts from the jest JSON reports this run wrote. */
function countTests() {
  let passed = 0;
  let failed = 0;
  for (const name of ['unit.json', 'integration.json']) {
    const file = join(REPORT_DIR, name);
    if (!existsSync(file)) continue;
    const report = JSON.parse(readFileSync(file, 'utf8'));
    passed += report.numPassedTests;
    failed += report.numFailedTests + (report.numRuntimeErrorTestSuites ?? 0);
  }
  return { passed, failed };
}

const STEPS = [
  { name: 'lint', cmd: ['npx', 'nx', 'run-many', '-t', 'lint', '--outputStyle=static'] },
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
      log(color('1', `── ${step.name}: ${step.cmd.join(' ')}`));
      const started = Date.now();
      const r = spawnSync(step.cmd[0], step.cmd.slice(1), { cwd: ROOT, stdio: 'inherit', env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' } });
      results.push({ name: step.name, ok: r.status === 0, seconds: Math.round((Date.now() - started) / 1000) });
      if (r.status !== 0 && step.needs) break; // a failed build leaves nothing for its dependant to test
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
  // The closing line CI reads: test counts from jest, plus any failed step (lint, typecheck, build).
  process.stdout.write(`tests: ${tests.passed} passed, ${tests.failed + failedSteps} failed\n`);
  process.exit(failedSteps === 0 ? 0 : 1);
}

main().catch((err) => {
  process.stderr.write(`[test] ${err.stack ?? err.message}\n`);
  process.exit(1);
});
