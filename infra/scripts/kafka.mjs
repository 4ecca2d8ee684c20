#!/usr/bin/env node
// The development/CI Kafka broker: Apache Kafka (KRaft, single node) from the official artifacts on Maven
// Central, resolved by `mvn` into infra/.cache/kafka/lib and run with the machine's JDK.
//
//   node infra/scripts/kafka.mjs start [--port 9092] [--controller-port 9093] [--data-dir DIR] [--foreground]
//   node infra/scripts/kafka.mjs stop  [--data-dir DIR]
//   node infra/scripts/kafka.mjs status [--port 9092]
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CACHE_DIR, DATA_DIR, ROOT, commandExists, isPortOpen, log, run, spawn } from './lib.mjs';

const KAFKA_DIR = join(ROOT, 'infra', 'kafka');
const LIB_DIR = join(CACHE_DIR, 'kafka', 'lib');
export const DEFAULT_DATA_DIR = join(DATA_DIR, 'kafka');

/** Resolves the broker's jars once per pom.xml content. */
export function ensureKafkaRuntime() {
  const pom = readFileSync(join(KAFKA_DIR, 'pom.xml'));
  const marker = join(LIB_DIR, `.resolved-${createHash('sha256').update(pom).digest('hex').slice(0, 16)}`);
  if (existsSync(marker)) return;
  if (!commandExists('java')) throw new Error('java is not on PATH: the Kafka broker needs a JDK (17+)');
  if (!commandExists('mvn')) throw new Error('mvn is not on PATH: it resolves the Kafka broker from Maven Central');
  log('resolving the Apache Kafka broker from Maven Central (first run only)…');
  rmSync(LIB_DIR, { recursive: true, force: true });
  run('mvn', ['-q', '-B', '-f', join(KAFKA_DIR, 'pom.xml'), 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${LIB_DIR}`]);
  writeFileSync(marker, new Date().toISOString());
}

function brokerProperties({ port, controllerPort, logDir }) {
  return readFileSync(join(KAFKA_DIR, 'server.properties'), 'utf8')
    .replaceAll('127.0.0.1:9093', `127.0.0.1:${controllerPort}`)
    .replaceAll('127.0.0.1:9092', `127.0.0.1:${port}`)
    .concat(`\nlog.dirs=${logDir}\n`);
}

function javaArgs(mainClass, args) {
  return [
    '-Xms256m',
    '-Xmx1g',
    '-XX:+UseG1GC',
    `-Dlog4j2.configurationFile=${join(KAFKA_DIR, 'log4j2.properties')}`,
    '-cp',
    `${LIB_DIR}/*`,
    mainClass,
    ...args,
  ];
}

function readPid(dataDir) {
  const file = join(dataDir, 'broker.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/**
 * Starts a broker unless one already listens on `port`. Resolves once the broker logs that it started.
 * Returns { pid, startedHere } — startedHere is false when a broker was already running.
 */
export async function startKafka({ port = 9092, controllerPort = 9093, dataDir = DEFAULT_DATA_DIR, foreground = false } = {}) {
  if (await isPortOpen(port)) {
    log(`Kafka already listening on 127.0.0.1:${port}`);
    return { pid: readPid(dataDir), startedHere: false, child: undefined };
  }
  ensureKafkaRuntime();
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const propsFile = join(dataDir, 'server.properties');
  writeFileSync(propsFile, brokerProperties({ port, controllerPort, logDir }));
  if (!existsSync(join(logDir, 'meta.properties'))) {
    // A Kafka cluster id is 16 random bytes in base64url; one starting with '-' would read as an option.
    let clusterId;
    do clusterId = randomBytes(16).toString('base64url');
    while (clusterId.startsWith('-'));
    run('java', javaArgs('kafka.tools.StorageTool', ['format', '-t', clusterId, '-c', propsFile, '--standalone', '--ignore-formatted']), { stdio: 'ignore' });
  }
  const brokerLog = join(dataDir, 'broker.log');
  const out = openSync(brokerLog, 'a');
  const child = spawn('java', javaArgs('kafka.Kafka', [propsFile]), {
    cwd: ROOT,
    stdio: ['ignore', out, out],
    detached: !foreground,
  });
  closeSync(out);
  writeFileSync(join(dataDir, 'broker.pid'), String(child.pid));
  if (!foreground) child.unref();
  log(`Kafka starting on 127.0.0.1:${port} (pid ${child.pid}, log ${brokerLog})`);
  await waitForBroker({ port, brokerLog, pid: child.pid });
  log(`Kafka ready on 127.0.0.1:${port}`);
  return { pid: child.pid, startedHere: true, child };
}

async function waitForBroker({ port, brokerLog, pid, timeoutMs = 90_000 }) {
  const startSize = existsSync(brokerLog) ? readFileSync(brokerLog).length : 0;
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      process.kill(pid, 0);
    } catch {
      throw new Error(`Kafka exited during start-up; see ${brokerLog}`);
    }
    const text = readFileSync(brokerLog).subarray(startSize).toString('utf8');
    if (text.includes('Kafka Server started') && (await isPortOpen(port))) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Kafka did not start within ${timeoutMs} ms; see ${brokerLog}`);
}

/** Stops the broker recorded in `dataDir` (SIGTERM, then SIGKILL after `graceMs`). */
export async function stopKafka({ dataDir = DEFAULT_DATA_DIR, graceMs = 20_000 } = {}) {
  const pid = readPid(dataDir);
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  const until = Date.now() + graceMs;
  while (Date.now() < until) {
    try {
      process.kill(pid, 0);
    } catch {
      rmSync(join(dataDir, 'broker.pid'), { force: true });
      return true;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  process.kill(pid, 'SIGKILL');
  rmSync(join(dataDir, 'broker.pid'), { force: true });
  return true;
}

async function cli() {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      port: { type: 'string', default: process.env.KAFKA_PORT ?? '9092' },
      'controller-port': { type: 'string', default: process.env.KAFKA_CONTROLLER_PORT ?? '9093' },
      'data-dir': { type: 'string', default: DEFAULT_DATA_DIR },
      foreground: { type: 'boolean', default: false },
    },
  });
  const dataDir = resolve(values['data-dir']);
  const command = positionals[0] ?? 'status';
  if (command === 'start') {
    const started = await startKafka({ port: Number(values.port), controllerPort: Number(values['controller-port']), dataDir, foreground: values.foreground });
    if (values.foreground && started.child) {
      const stop = () => started.child.kill('SIGTERM');
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      started.child.on('exit', (code) => process.exit(code ?? 0));
    }
  } else if (command === 'stop') {
    log((await stopKafka({ dataDir })) ? 'Kafka stopped' : 'no Kafka broker recorded in ' + dataDir);
  } else if (command === 'status') {
    const open = await isPortOpen(Number(values.port));
    log(open ? `Kafka listening on 127.0.0.1:${values.port}` : `nothing listens on 127.0.0.1:${values.port}`);
    process.exitCode = open ? 0 : 1;
  } else if (command === 'clean') {
    await stopKafka({ dataDir });
    for (const f of existsSync(dataDir) ? readdirSync(dataDir) : []) rmSync(join(dataDir, f), { recursive: true, force: true });
    log(`removed ${dataDir}`);
  } else {
    throw new Error(`unknown command ${command}: use start, stop, status or clean`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  cli().catch((err) => {
    process.stderr.write(`[kafka] ${err.message}\n`);
    process.exit(1);
  });
}
