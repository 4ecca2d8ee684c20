/**
 * `npm run loadtest -- --scenario <logon|query|write|ingest|pushEvent|mixed> --rate <TPS> --duration <s>
 *  --connections <n> [--url http://127.0.0.1:8080] [--user admin --password admin] [--out reports/loadtest]`
 *
 * Load test of a Campaign SOAP endpoint built on autocannon. `--help` describes the flags; docs/loadtest.md
 * explains the scenarios, the figures and their limits. `main` is also called programmatically (tests).
 */
import { parseLoadTestArgs, LoadTestUsageError, USAGE } from './loadtest.options';
import { formatSummary, writeReports } from './loadtest.report';
import type { LoadTestResult } from './loadtest.result';
import { runLoadTest } from './loadtest.runner';
import { LogonError } from './soap.envelope';

export interface LoadTestIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  signal?: AbortSignal;
}

export interface LoadTestOutcome {
  /** 0 run completed (whatever the server answered), 1 set-up failed, 2 bad arguments. */
  exitCode: number;
  result?: LoadTestResult;
  files?: { html: string; json: string };
}

const processIo: LoadTestIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export async function main(argv: readonly string[], io: LoadTestIo = processIo): Promise<LoadTestOutcome> {
  let parsed: ReturnType<typeof parseLoadTestArgs>;
  try {
    parsed = parseLoadTestArgs(argv);
  } catch (err) {
    if (!(err instanceof LoadTestUsageError)) throw err;
    io.stderr(`loadtest: ${err.message}\nRun with --help for usage.\n`);
    return { exitCode: 2 };
  }
  if (parsed.help) {
    io.stdout(USAGE);
    return { exitCode: 0 };
  }
  const { options } = parsed;
  io.stderr(
    `loadtest: ${options.scenario} at ${options.rate} req/s for ${options.durationSeconds} s over ${options.connections} connections → ${options.url} (as ${options.user})\n`,
  );
  let result: LoadTestResult;
  try {
    result = await runLoadTest(options, { progress: (line) => io.stderr(`${line}\n`), ...(io.signal ? { signal: io.signal } : {}) });
  } catch (err) {
    if (!(err instanceof LogonError)) throw err;
    io.stderr(`loadtest: set-up failed, nothing was sent: ${err.message}\n`);
    return { exitCode: 1 };
  }
  const files = writeReports(result, options.outDir);
  io.stdout(formatSummary(result, files));
  return { exitCode: 0, result, files };
}

if (require.main === module) {
  const controller = new AbortController();
  process.once('SIGINT', () => {
    process.stderr.write('\nloadtest: stopping (Ctrl-C again to quit at once)…\n');
    controller.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  main(process.argv.slice(2), { ...processIo, signal: controller.signal }).then(
    (outcome) => {
      process.exitCode = outcome.exitCode;
    },
    (err: unknown) => {
      process.stderr.write(`loadtest: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
