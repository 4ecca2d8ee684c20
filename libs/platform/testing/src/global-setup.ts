/**
 * Jest global setup for integration tests: checks that the real infrastructure answers (with a message that
 * says how to start it) and that the app bundles exist, building them when missing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { testEndpoints } from './test.endpoints';

function isOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export default async function globalSetup(): Promise<void> {
  const endpoints = testEndpoints();
  const pg = new URL(endpoints.postgresAdminUrl);
  const redis = new URL(endpoints.redisUrl);
  const [kafkaHost, kafkaPort] = endpoints.kafkaBrokers[0]!.split(':');
  const missing: string[] = [];
  if (!(await isOpen(pg.hostname, Number(pg.port || 5432)))) missing.push(`PostgreSQL at ${pg.host}`);
  if (!(await isOpen(redis.hostname, Number(redis.port || 6379)))) missing.push(`Redis at ${redis.host}`);
  if (!(await isOpen(kafkaHost!, Number(kafkaPort)))) missing.push(`Kafka at ${endpoints.kafkaBrokers[0]}`);
  if (missing.length > 0) {
    throw new Error(
      `Integration tests need real infrastructure; not answering: ${missing.join(', ')}. Run \`npm run infra:up\` (or \`npm test\`, which starts it).`,
    );
  }
  const root = join(__dirname, '..', '..', '..', '..');
  if (!existsSync(join(root, 'dist', 'apps', 'api-gateway', 'main.js'))) {
    const r = spawnSync('node', ['infra/scripts/build-app.mjs', 'all'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('building the apps failed');
  }
}
