#!/usr/bin/env node
// `npm run bench`: runs every benchmark (`{apps,libs,infra}/**/bench/*.bench.ts`) one after the other with tsx and prints
// their reports. Benchmarks are not tests: CI does not run them; figures go to docs/benchmarks.md with the
// command that produced them. `npm run bench -- <filter>` runs the benchmarks whose path contains <filter>.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT, ensureNodeModules, log } from './lib.mjs';

function findBenches(dir, out = []) {
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry.startsWith('.') || entry === 'dist') continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) findBenches(path, out);
    else if (entry.endsWith('.bench.ts') && dir.endsWith('bench')) out.push(path);
  }
  return out;
}

ensureNodeModules();
const filter = process.argv[2] ?? '';
const benches = ['apps', 'libs', 'infra']
  .flatMap((d) => findBenches(join(ROOT, d)))
  .filter((p) => p.includes(filter))
  .sort();
if (benches.length === 0) {
  log(`no benchmark matches '${filter}'`);
  process.exit(1);
}
let failed = 0;
for (const bench of benches) {
  log(`── ${relative(ROOT, bench)}`);
  const r = spawnSync('npx', ['tsx', bench], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
