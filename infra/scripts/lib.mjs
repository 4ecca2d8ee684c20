// Helpers for the infra scripts. Node built-ins only: these run before `npm ci` on a fresh clone.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CACHE_DIR = join(ROOT, 'infra', '.cache');
export const DATA_DIR = join(ROOT, 'infra', '.data');

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
export const color = (code, text) => (useColor ? `\x1b[${code}m${text}\x1b[0m` : text);

export function log(message) {
  process.stdout.write(`${color('36', '[infra]')} ${message}\n`);
}

export function fail(message) {
  process.stderr.write(`${color('31', '[infra] error:')} ${message}\n`);
  process.exit(1);
}

/** Runs a command to completion with inherited output; throws on a non-zero exit. */
export function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: ROOT, ...options });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
}

export function commandExists(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function isPortOpen(port, host = '127.0.0.1', timeoutMs = 500) {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (open) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function waitForPort(port, { host = '127.0.0.1', timeoutMs = 60_000, what = `port ${port}` } = {}) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await isPortOpen(port, host)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not open within ${timeoutMs} ms`);
}

/** Installs node_modules from the lock file when missing or older than package-lock.json. */
export function ensureNodeModules() {
  const marker = join(ROOT, 'node_modules', '.package-lock.json');
  if (existsSync(marker)) return;
  log('installing npm dependencies (npm ci)…');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

export { spawn };
