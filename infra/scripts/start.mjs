#!/usr/bin/env node
// `npm start`: the whole platform on this machine. Installs what is missing, brings up PostgreSQL, Redis
// and Kafka, migrates, creates topics, builds and starts the four services as separate processes with
// prefixed logs, and prints the gateway URL. Ctrl-C stops everything it started, Kafka included.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT, color, ensureNodeModules, log, run, spawn } from './lib.mjs';

const SERVICES = [
  { app: 'local-store', port: 8081, color: '32' },
  { app: 'cloud-executor', port: 8083, color: '35' },
  { app: 'staging-sync', port: 8082, color: '33' },
  { app: 'api-gateway', port: 8080, color: '34' },
];
const LEVEL_COLOR = { trace: '90', debug: '90', info: '0', warn: '33', error: '31', fatal: '41' };
const SKIP_KEYS = new Set(['level', 'time', 'service', 'instance', 'msg', 'pid', 'hostname']);

function formatLine(raw) {
  let entry;
  try {
    entry = JSON.parse(raw);
  } catch {
    return raw;
  }
  if (typeof entry !== 'object' || entry === null || !('msg' in entry)) return raw;
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : '';
  const extras = Object.entries(entry)
    .filter(([k]) => !SKIP_KEYS.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const level = String(entry.level ?? 'info');
  return `${color('90', time)} ${color(LEVEL_COLOR[level] ?? '0', level.padEnd(5))} ${entry.msg}${extras ? ' ' + color('90', extras) : ''}`;
}

function pipeWithPrefix(stream, prefix) {
  createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${prefix} ${formatLine(line)}\n`));
}

async function waitReady(port, timeoutMs = 60_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return false;
}

async function main() {
  ensureNodeModules();
  const { infraUp } = await import('./infra.mjs');
  const kafka = await infraUp({ foregroundKafka: true });
  log('migrating databases and creating topics…');
  run('npx', ['tsx', 'infra/src/bootstrap.ts'], { env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' } });
  log('building services…');
  run('node', ['infra/scripts/build-app.mjs', 'all']);

  const children = new Map();
  let stopping = false;
  for (const svc of SERVICES) {
    const env = { ...process.env, HTTP_HOST: process.env.HTTP_HOST ?? '127.0.0.1', HTTP_PORT: String(svc.port), SERVICE_INSTANCE_ID: `${svc.app}-dev` };
    // Development data (operators admin/admin and mc/mc, …) unless the environment says otherwise.
    if (svc.app === 'local-store') env.DEV_SEED = process.env.DEV_SEED ?? 'true';
    const flags = readFileSync(join(ROOT, 'dist', 'apps', svc.app, 'node-flags'), 'utf8').split(/\s+/).filter(Boolean);
    const child = spawn('node', [...flags, '--enable-source-maps', `dist/apps/${svc.app}/main.js`], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const prefix = color(svc.color, `[${svc.app}]`.padEnd(17));
    pipeWithPrefix(child.stdout, prefix);
    pipeWithPrefix(child.stderr, prefix);
    child.on('exit', (code, signal) => {
      children.delete(svc.app);
      if (!stopping) log(color('31', `${svc.app} exited (${signal ?? code}); the others keep running — Ctrl-C to stop`));
    });
    children.set(svc.app, child);
  }

  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    log('stopping services…');
    const exits = [...children.values()].map((c) => new Promise((r) => c.once('exit', r)));
    for (const c of children.values()) c.kill('SIGTERM');
    const force = setTimeout(() => [...children.values()].forEach((c) => c.kill('SIGKILL')), 20_000);
    await Promise.all(exits);
    clearTimeout(force);
    if (kafka.startedHere && kafka.child) {
      log('stopping Kafka…');
      const kafkaExit = new Promise((r) => kafka.child.once('exit', r));
      kafka.child.kill('SIGTERM');
      await kafkaExit;
    }
    log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  const ready = await Promise.all(SERVICES.map((s) => waitReady(s.port)));
  SERVICES.forEach((s, i) => log(`${s.app.padEnd(15)} http://127.0.0.1:${s.port}  ${ready[i] ? color('32', 'ready') : color('31', 'NOT ready (see its log lines)')}`));
  log(color('1', `Campaign API gateway: http://127.0.0.1:8080  (SOAP router: /nl/jsp/soaprouter.jsp) — Ctrl-C to stop`));
}

main().catch((err) => {
  process.stderr.write(`[start] ${err.stack ?? err.message}\n`);
  process.exit(1);
});
