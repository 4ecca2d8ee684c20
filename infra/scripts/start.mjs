#!/usr/bin/env node
// `npm start`: the whole platform on this machine. Installs what is missing, brings up PostgreSQL, Redis
// and Kafka, migrates, creates topics, builds and starts the four services as separate processes with
// prefixed logs, and prints the gateway URL. A service that dies is restarted with a backoff
// (infra/scripts/services.mjs, supervisor.mjs). Ctrl-C stops everything it started, Kafka included.
import { color, ensureNodeModules, log, run } from './lib.mjs';
import { SERVICES, startServices } from './services.mjs';

async function main() {
  ensureNodeModules();
  const { infraUp } = await import('./infra.mjs');
  const kafka = await infraUp({ foregroundKafka: true });
  log('migrating databases and creating topics…');
  run('npx', ['tsx', 'infra/src/bootstrap.ts'], { env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' } });
  log('building services…');
  run('node', ['infra/scripts/build-app.mjs', 'all']);

  // Supervised: a service that dies is restarted with a backoff (infra/scripts/supervisor.mjs).
  const services = startServices({ env: process.env });

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    log('stopping services…');
    await services.stop();
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

  const ready = await Promise.all(SERVICES.map((s) => services.waitUntilReady(s.name, 60_000)));
  if (stopping) return;
  SERVICES.forEach((s, i) =>
    log(`${s.name.padEnd(15)} http://127.0.0.1:${s.port}  ${ready[i] ? color('32', 'ready') : color('31', 'NOT ready (see its log lines)')}`),
  );
  log(color('1', `Campaign API gateway: http://127.0.0.1:8080  (SOAP router: /nl/jsp/soaprouter.jsp) — Ctrl-C to stop`));
}

main().catch((err) => {
  process.stderr.write(`[start] ${err.stack ?? err.message}\n`);
  process.exit(1);
});
