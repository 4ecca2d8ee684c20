#!/usr/bin/env node
// Brings up what the platform needs on this machine: PostgreSQL, Redis, Kafka.
//   node infra/scripts/infra.mjs up     start whatever is not already answering
//   node infra/scripts/infra.mjs down   stop what these scripts started (Kafka; PostgreSQL/Redis only if ours)
// PostgreSQL and Redis already running (e.g. on 127.0.0.1:5432 / :6379) are used as they are.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA_DIR, commandExists, isPortOpen, log, run, waitForPort } from './lib.mjs';
import { startKafka, stopKafka } from './kafka.mjs';

export const PG_PORT = Number(process.env.PGPORT ?? 5432);
export const REDIS_PORT = Number(process.env.REDIS_PORT ?? 6379);
export const KAFKA_PORT = Number(process.env.KAFKA_PORT ?? 9092);

const PG_DATA = join(DATA_DIR, 'postgres');
const REDIS_DATA = join(DATA_DIR, 'redis');

function findPgBin(name) {
  if (commandExists(name)) return name;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  for (const version of readdirSync(base).sort().reverse()) {
    const candidate = join(base, version, 'bin', name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

async function ensurePostgres() {
  if (await isPortOpen(PG_PORT)) return log(`PostgreSQL answering on 127.0.0.1:${PG_PORT}`);
  // The machine's own cluster, if it has one that is merely stopped.
  if (commandExists('pg_ctlcluster') && existsSync('/etc/postgresql')) {
    for (const version of readdirSync('/etc/postgresql')) {
      log(`starting the machine's PostgreSQL ${version} cluster…`);
      try {
        run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start']);
      } catch (err) {
        log(`could not start it: ${err.message}`);
      }
    }
    if (await isPortOpen(PG_PORT)) return;
  }
  const initdb = findPgBin('initdb');
  const pgCtl = findPgBin('pg_ctl');
  if (!initdb || !pgCtl) throw new Error(`nothing answers on 127.0.0.1:${PG_PORT} and no PostgreSQL binaries were found to start one`);
  if (!existsSync(join(PG_DATA, 'PG_VERSION'))) {
    mkdirSync(PG_DATA, { recursive: true });
    log('initialising a local PostgreSQL cluster in infra/.data/postgres…');
    // initdb refuses to run as root; run it as the postgres user when we are root.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) run('chown', ['-R', 'postgres', PG_DATA]);
    const wrap = (cmd, args) => (asRoot ? ['su', ['postgres', '-c', [cmd, ...args].map((a) => `'${a}'`).join(' ')]] : [cmd, args]);
    run(...wrap(initdb, ['-D', PG_DATA, '-U', 'postgres', '--auth=trust']));
  }
  const asRoot = process.getuid?.() === 0;
  const args = ['-D', PG_DATA, '-l', join(PG_DATA, 'server.log'), '-o', `-p ${PG_PORT} -k /tmp -c listen_addresses=127.0.0.1`, 'start'];
  if (asRoot) run('su', ['postgres', '-c', [pgCtl, ...args].map((a) => `'${a}'`).join(' ')]);
  else run(pgCtl, args);
  await waitForPort(PG_PORT, { what: 'PostgreSQL', timeoutMs: 30_000 });
  writeFileSync(join(DATA_DIR, 'postgres.started-here'), '');
  log(`PostgreSQL started on 127.0.0.1:${PG_PORT}`);
}

async function ensureRedis() {
  if (await isPortOpen(REDIS_PORT)) return log(`Redis answering on 127.0.0.1:${REDIS_PORT}`);
  if (!commandExists('redis-server')) throw new Error(`nothing answers on 127.0.0.1:${REDIS_PORT} and redis-server is not installed`);
  mkdirSync(REDIS_DATA, { recursive: true });
  run('redis-server', [
    '--daemonize',
    'yes',
    '--bind',
    '127.0.0.1',
    '--port',
    String(REDIS_PORT),
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    REDIS_DATA,
    '--pidfile',
    join(REDIS_DATA, 'redis.pid'),
    '--logfile',
    join(REDIS_DATA, 'redis.log'),
  ]);
  await waitForPort(REDIS_PORT, { what: 'Redis', timeoutMs: 15_000 });
  writeFileSync(join(DATA_DIR, 'redis.started-here'), '');
  log(`Redis started on 127.0.0.1:${REDIS_PORT}`);
}

/** Starts what is missing. Returns the Kafka start result so a caller can stop what it started. */
export async function infraUp({ foregroundKafka = false } = {}) {
  mkdirSync(DATA_DIR, { recursive: true });
  await ensurePostgres();
  await ensureRedis();
  return startKafka({ port: KAFKA_PORT, controllerPort: Number(process.env.KAFKA_CONTROLLER_PORT ?? KAFKA_PORT + 1), foreground: foregroundKafka });
}

export async function infraDown() {
  if (await stopKafka()) log('Kafka stopped');
  if (existsSync(join(DATA_DIR, 'redis.started-here')) && commandExists('redis-cli')) {
    run('redis-cli', ['-p', String(REDIS_PORT), 'shutdown', 'nosave']);
    log('Redis stopped');
  }
  const pgCtl = findPgBin('pg_ctl');
  if (existsSync(join(DATA_DIR, 'postgres.started-here')) && pgCtl) {
    const args = ['-D', PG_DATA, 'stop', '-m', 'fast'];
    if (process.getuid?.() === 0) run('su', ['postgres', '-c', [pgCtl, ...args].map((a) => `'${a}'`).join(' ')]);
    else run(pgCtl, args);
    log('PostgreSQL stopped');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const command = process.argv[2] ?? 'up';
  const action = command === 'up' ? infraUp : command === 'down' ? infraDown : undefined;
  if (!action) {
    process.stderr.write('usage: infra.mjs up|down\n');
    process.exit(2);
  }
  action().catch((err) => {
    process.stderr.write(`[infra] ${err.message}\n`);
    process.exit(1);
  });
}
