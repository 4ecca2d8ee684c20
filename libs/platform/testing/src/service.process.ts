import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { waitFor } from './wait.for';

const ROOT = join(__dirname, '..', '..', '..', '..');

export type AppName = 'api-gateway' | 'local-store' | 'staging-sync' | 'cloud-executor';

export interface ServiceProcess {
  app: AppName;
  pid: number;
  url: string;
  /** Parsed JSON log lines written so far (non-JSON lines kept as { raw }). */
  logs: Record<string, unknown>[];
  readyz(): Promise<{ status: number; body: { status: string; checks: Record<string, { status: string; error?: string }> } }>;
  waitUntilReady(timeoutMs?: number): Promise<void>;
  signal(sig: NodeJS.Signals): void;
  /** Resolves with the exit code (or signal) once the process has ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (if still running) and wait for exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A key ring for test and benchmark platforms only (SECRETS_KEYS): a fixed, public key. */
export const TEST_SECRETS_KEYS = `test:${Buffer.alloc(32, 0x5a).toString('base64')}`;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts one app from its bundle (dist/apps/<app>/main.js) as a separate OS process. `root`: the checkout whose
 * dist/ holds the bundle (default: this repository; a benchmark runs an older build beside the current one).
 */
export async function startServiceProcess(app: AppName, env: Record<string, string>, options: { root?: string } = {}): Promise<ServiceProcess> {
  const root = options.root ?? ROOT;
  // A caller may fix the port (to restart a service under the same address); otherwise any free one.
  const port = env['HTTP_PORT'] ? Number(env['HTTP_PORT']) : await freePort();
  // The app's V8 flags, as npm start and the Dockerfile use them (written by infra/scripts/build-app.mjs).
  const flagsFile = join(root, 'dist', 'apps', app, 'node-flags');
  const flags = existsSync(flagsFile) ? readFileSync(flagsFile, 'utf8').split(/\s+/).filter(Boolean) : [];
  const child: ChildProcess = spawn(process.execPath, [...flags, '--enable-source-maps', join(root, 'dist', 'apps', app, 'main.js')], {
    cwd: root,
    env: {
      PATH: process.env['PATH'] ?? '',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      LOG_LEVEL: 'info',
      KAFKA_RETRY_PROFILE: 'fast',
      SHUTDOWN_TIMEOUT_MS: '15000',
      // The gateway's secrets key (docs/secrets.md), so that runs with NODE_ENV=production (benchmarks) start.
      SECRETS_KEYS: TEST_SECRETS_KEYS,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  // Every line also goes to reports/service-logs/, for reading after a failed run (CI included).
  const logDir = join(ROOT, 'reports', 'service-logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = createWriteStream(join(logDir, `${env['KAFKA_TOPIC_PREFIX'] ?? ''}${app}-${port}.log`));
  const collect = (chunk: Buffer) => {
    logFile.write(chunk);
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ raw: line });
      }
    }
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      logFile.end();
      resolve({ code, signal });
    }),
  );
  const url = `http://127.0.0.1:${port}`;

  const proc: ServiceProcess = {
    app,
    pid: child.pid!,
    url,
    logs,
    exited,
    async readyz() {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) });
      return { status: res.status, body: (await res.json()) as Awaited<ReturnType<ServiceProcess['readyz']>>['body'] };
    },
    async waitUntilReady(timeoutMs = 60_000) {
      let ended = false;
      void exited.then(() => (ended = true));
      await waitFor(
        `${app} to report ready`,
        async () => {
          if (ended) throw new Error(`${app} exited during start-up: ${JSON.stringify(logs.slice(-5))}`);
          return (await proc.readyz()).status === 200;
        },
        { timeoutMs, intervalMs: 200 },
      ).catch((err: Error) => {
        if (ended) throw new Error(`${app} exited during start-up; last lines: ${JSON.stringify(logs.slice(-5))}`);
        throw err;
      });
    },
    signal(sig) {
      child.kill(sig);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
  return proc;
}
