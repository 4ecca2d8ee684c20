import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './service.process';

const ROOT = join(__dirname, '..', '..', '..', '..');

export interface TestBroker {
  brokers: string[];
  /** Stops the broker process (SIGTERM, clean shutdown); its data stays. */
  stop(): void;
  /** Starts it again on the same ports with the same data. */
  start(): void;
  /** Stops it and deletes its data. */
  dispose(): void;
}

function kafkaScript(args: string[]): void {
  const r = spawnSync(process.execPath, [join(ROOT, 'infra', 'scripts', 'kafka.mjs'), ...args], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kafka.mjs ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
}

/**
 * A Kafka broker of the test's own (same artifacts as the shared one, own ports and data), for tests that
 * stop or restart the broker without disturbing anything else.
 */
export async function startTestBroker(): Promise<TestBroker> {
  const port = await freePort();
  const controllerPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'cap-kafka-'));
  const args = ['--port', String(port), '--controller-port', String(controllerPort), '--data-dir', dataDir];
  kafkaScript(['start', ...args]);
  return {
    brokers: [`127.0.0.1:${port}`],
    stop: () => kafkaScript(['stop', '--data-dir', dataDir]),
    start: () => kafkaScript(['start', ...args]),
    dispose: () => {
      kafkaScript(['stop', '--data-dir', dataDir]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
