// The four services as `npm start` runs them: their ports, how one is spawned (V8 flags from
// dist/apps/<app>/node-flags, its environment, its JSON log lines pretty-printed behind a coloured prefix),
// its readiness (/readyz on its port), all under the supervisor (./supervisor.mjs), which restarts a service
// that dies. infra/test/supervisor.int.test.ts runs this same code on free ports against real infrastructure.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT, color, spawn } from './lib.mjs';
import { createSupervisor } from './supervisor.mjs';

export const SERVICES = Object.freeze([
  { name: 'local-store', port: 8081, color: '32' },
  { name: 'cloud-executor', port: 8083, color: '35' },
  { name: 'staging-sync', port: 8082, color: '33' },
  { name: 'api-gateway', port: 8080, color: '34' },
]);

const LEVEL_COLOR = { trace: '90', debug: '90', info: '0', warn: '33', error: '31', fatal: '41' };
const SKIP_KEYS = new Set(['level', 'time', 'service', 'instance', 'msg', 'pid', 'hostname']);
const KIND_COLOR = { exited: '31', failing: '41', waiting: '33', ready: '32' };

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

/** One probe of a service's /readyz: true on a 2xx answer. */
export async function isReadyz(port, host = '127.0.0.1') {
  try {
    const res = await fetch(`http://${host}:${port}/readyz`, { signal: AbortSignal.timeout(2_000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Spawns every service under a supervisor and returns it (see ./supervisor.d.mts). `env` is the base
 * environment of every service; `write` receives the output (the services' lines and the supervisor's).
 */
export function startServices({ env, services = SERVICES, write = (text) => process.stdout.write(text), policy } = {}) {
  const pipeLines = (stream, prefix) => createInterface({ input: stream }).on('line', (line) => write(`${prefix} ${formatLine(line)}\n`));
  const supervisor = createSupervisor({
    services,
    policy,
    launch(svc) {
      const childEnv = { ...env, HTTP_HOST: env.HTTP_HOST ?? '127.0.0.1', HTTP_PORT: String(svc.port), SERVICE_INSTANCE_ID: `${svc.name}-dev` };
      // Development data (operators admin/admin and mc/mc, …) unless the environment says otherwise.
      if (svc.name === 'local-store') childEnv.DEV_SEED = env.DEV_SEED ?? 'true';
      // Read at every launch: a restart runs the bundle as last built (node infra/scripts/build-app.mjs <app>).
      const flags = readFileSync(join(ROOT, 'dist', 'apps', svc.name, 'node-flags'), 'utf8')
        .split(/\s+/)
        .filter(Boolean);
      const child = spawn(process.execPath, [...flags, '--enable-source-maps', join('dist', 'apps', svc.name, 'main.js')], {
        cwd: ROOT,
        env: childEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const prefix = color(svc.color, `[${svc.name}]`.padEnd(17));
      pipeLines(child.stdout, prefix);
      pipeLines(child.stderr, prefix);
      return child;
    },
    isReady: (svc) => isReadyz(svc.port),
    log: (line, kind) => write(`${color('36', '[infra]')} ${color(KIND_COLOR[kind] ?? '0', line)}\n`),
  });
  supervisor.start();
  return supervisor;
}
