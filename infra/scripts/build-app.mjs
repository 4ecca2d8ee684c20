#!/usr/bin/env node
// Bundles one app (or `all`) with esbuild into dist/apps/<app>/main.js (and <name>.thread.js for each
// src/**/<name>.thread.ts worker-thread entry): libs are bundled in (resolved
// through tsconfig paths), npm packages stay external. Each app's migrations/ folder and the built-in
// schemas (schemas/) are copied beside it.
import { cpSync, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ROOT } from './lib.mjs';

export const APPS = ['api-gateway', 'local-store', 'staging-sync', 'cloud-executor'];

// V8 flags each app runs with, written to dist/apps/<app>/node-flags and read by everything that starts the
// bundle (npm start, the Dockerfile, the test/benchmark process helper). The gateway's bounded old space keeps
// its RSS under the 150 MB target (P1: ~130 MB under saturation; docs/benchmarks.md); 192 MB of old space still
// parses the largest body it accepts (8 MiB). A smaller young generation (--max-semi-space-size=2) saved another
// 30 MB but cost ~25 % of its throughput in scavenges (measured 2026-11-28, docs/benchmarks.md), so V8's default is kept.
// staging-sync holds a whole batch (thousands of decoded changes) across each cloud round trip, so every
// scavenge copied it: a 64 MB semi-space makes scavenges ~3× rarer (GC time 1.9 s → 0.8 s per 100,000 rows,
// P3 in docs/benchmarks.md, 2026-11-28) for a larger but bounded young generation.
export const NODE_FLAGS = {
  'api-gateway': ['--max-old-space-size=192'],
  'staging-sync': ['--max-semi-space-size=64'],
};

// Worker-thread entries of an app (files named *.thread.ts under src/), by output name (workflow-script.thread).
function threadEntries(dir, out = {}) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) threadEntries(path, out);
    else if (entry.name.endsWith('.thread.ts')) out[entry.name.slice(0, -'.ts'.length)] = path;
  }
  return out;
}

export async function buildApp(app) {
  const outdir = join(ROOT, 'dist', 'apps', app);
  rmSync(outdir, { recursive: true, force: true });
  await build({
    // main.ts, plus each worker-thread entry (`*.thread.ts`) as a file of its own beside it.
    entryPoints: { main: join(ROOT, 'apps', app, 'src', 'main.ts'), ...threadEntries(join(ROOT, 'apps', app, 'src')) },
    outdir,
    entryNames: '[name]',
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    sourcemap: true,
    tsconfig: join(ROOT, 'apps', app, 'tsconfig.json'),
    logLevel: 'warning',
  });
  const migrations = join(ROOT, 'apps', app, 'migrations');
  if (existsSync(migrations)) cpSync(migrations, join(outdir, 'migrations'), { recursive: true });
  // The built-in Campaign schemas travel with every service (each compiles the same data model).
  cpSync(join(ROOT, 'libs', 'campaign', 'schema', 'builtin'), join(outdir, 'schemas'), { recursive: true });
  writeFileSync(join(outdir, 'node-flags'), `${(NODE_FLAGS[app] ?? []).join(' ')}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const which = process.argv[2] ?? 'all';
  const apps = which === 'all' ? APPS : [which];
  for (const app of apps) {
    if (!APPS.includes(app)) {
      process.stderr.write(`unknown app ${app}; one of ${APPS.join(', ')} or all\n`);
      process.exit(2);
    }
  }
  Promise.all(apps.map(buildApp)).catch((err) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
}
