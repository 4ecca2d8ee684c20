import { parseArgs } from 'node:util';
import { z } from 'zod';

export const SCENARIO_NAMES = ['logon', 'query', 'write', 'ingest', 'pushEvent', 'mixed'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** Bounds: a load test is a deliberate, bounded act. */
export const LIMITS = { maxDurationSeconds: 3_600, maxRate: 100_000, maxConnections: 10_000, maxTimeoutSeconds: 120 } as const;

export const DEFAULT_URL = 'http://127.0.0.1:8080';

export interface LoadTestOptions {
  scenario: ScenarioName;
  /** Requests per second over all connections (autocannon `overallRate`). */
  rate: number;
  durationSeconds: number;
  connections: number;
  /** Base URL of the Campaign server (origin, optionally with a path prefix; no trailing slash). */
  url: string;
  user: string;
  password: string;
  /** Directory for the HTML and JSON reports. */
  outDir: string;
  /** Seconds before an unanswered request counts as a timeout. */
  timeoutSeconds: number;
}

export const USAGE = `Load test of a Campaign SOAP endpoint (the api-gateway), built on autocannon.

Usage:
  npm run loadtest -- --scenario <name> --rate <TPS> --duration <s> --connections <n> [options]

Required:
  --scenario <name>     logon      repeated xtk:session#Logon
                        query      xtk:queryDef#ExecuteQuery on nms:recipient (3 fields, lineCount 10)
                        write      xtk:persist|xtk:session#Write, insert nms:recipient (unique emails)
                        ingest     xtk:session#Ingest into nms:recipientStg (unique emails)
                        pushEvent  nms:rtEvent#PushEvent (type + unique email)
                        mixed      query 50 %, ingest 20 %, write 15 %, pushEvent 10 %, logon 5 %
  --rate <TPS>          requests per second over all connections (1 – ${LIMITS.maxRate.toLocaleString('en')})
  --duration <s>        seconds of load (1 – ${LIMITS.maxDurationSeconds})
  --connections <n>     concurrent keep-alive connections (1 – ${LIMITS.maxConnections.toLocaleString('en')})

Options:
  --url <url>           server base URL (default ${DEFAULT_URL}; only this URL is ever contacted)
  --user <login>        operator to log on with (default admin)
  --password <pwd>      its password (default admin)
  --out <dir>           directory for the HTML and JSON reports (default reports/loadtest)
  --timeout <s>         seconds before a request counts as timed out (default 10, max ${LIMITS.maxTimeoutSeconds})
  --help                this text

The tool logs on once, then sends every request with the session and security tokens as
@adobe/acc-js-sdk does (X-Session-Token, X-Security-Token, Cookie __sessiontoken, first SOAP parameter).
It prints one progress line per second on stderr, a summary on stdout, and writes
<out>/loadtest-<scenario>-<time>.html (charts) and .json (per-second series).
`;

/** Bad command-line flags; `problems` has one line per flag. */
export class LoadTestUsageError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid arguments:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'LoadTestUsageError';
  }
}

const wholeNumber = (flag: string, unit: string, min: number, max: number) =>
  z
    .string({ error: (issue) => (issue.input === undefined ? `${flag} is required (${unit})` : `${flag} needs a value`) })
    .regex(/^\d+$/, { error: (issue) => `${flag} must be a whole number of ${unit}, got '${String(issue.input)}'` })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { error: (issue) => `${flag} must be at least ${min} (got ${String(issue.input)})` })
        .max(max, {
          error: (issue) =>
            `${flag} must be at most ${max.toLocaleString('en')} ${unit} (got ${Number(issue.input).toLocaleString('en')}); this tool refuses larger runs`,
        }),
    );

const urlSchema = z.string().transform((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: `--url must be an absolute http(s) URL such as ${DEFAULT_URL}, got '${text}'` });
    return z.NEVER;
  }
  const problems: string[] = [];
  if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.push(`--url must use http or https, got '${url.protocol}'`);
  if (url.username || url.password) problems.push('--url must not carry credentials (use --user and --password)');
  if (url.search || url.hash) problems.push('--url must be a base URL without query or fragment (the tool adds /nl/jsp/soaprouter.jsp)');
  for (const message of problems) ctx.addIssue({ code: 'custom', message });
  return problems.length > 0 ? z.NEVER : `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
});

const argsSchema = z.object({
  scenario: z.enum(SCENARIO_NAMES, {
    error: (issue) =>
      issue.input === undefined
        ? `--scenario is required: one of ${SCENARIO_NAMES.join(', ')}`
        : `--scenario must be one of ${SCENARIO_NAMES.join(', ')}, got '${String(issue.input)}'`,
  }),
  rate: wholeNumber('--rate', 'requests/s', 1, LIMITS.maxRate),
  duration: wholeNumber('--duration', 'seconds', 1, LIMITS.maxDurationSeconds),
  connections: wholeNumber('--connections', 'connections', 1, LIMITS.maxConnections),
  timeout: wholeNumber('--timeout', 'seconds', 1, LIMITS.maxTimeoutSeconds).default(10),
  url: urlSchema.default(DEFAULT_URL),
  user: z.string().min(1, { error: '--user must not be empty' }).default('admin'),
  password: z.string().default('admin'),
  out: z.string().min(1, { error: '--out must not be empty' }).default('reports/loadtest'),
});

const FLAGS = ['scenario', 'rate', 'duration', 'connections', 'url', 'user', 'password', 'out', 'timeout'] as const;

/**
 * Parses and validates the command line (`--flag value` or `--flag=value`). Returns `{ help: true }` for
 * `--help`; throws LoadTestUsageError naming every bad or missing flag.
 */
export function parseLoadTestArgs(argv: readonly string[]): { help: true } | { help: false; options: LoadTestOptions } {
  let values: Record<string, string | boolean | undefined>;
  try {
    const parsed = parseArgs({
      args: [...argv],
      options: { ...Object.fromEntries(FLAGS.map((f) => [f, { type: 'string' as const }])), help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
    values = parsed.values;
  } catch (err) {
    // node:util parseArgs: unknown flag, missing value, stray positional argument.
    throw new LoadTestUsageError([(err as Error).message.replace(/\. To specify an option argument starting with.*$/s, '')]);
  }
  if (values['help']) return { help: true };
  const result = argsSchema.safeParse(values);
  if (!result.success) throw new LoadTestUsageError(result.error.issues.map((issue) => issue.message));
  const a = result.data;
  return {
    help: false,
    options: {
      scenario: a.scenario,
      rate: a.rate,
      durationSeconds: a.duration,
      connections: a.connections,
      url: a.url,
      user: a.user,
      password: a.password,
      outDir: a.out,
      timeoutSeconds: a.timeout,
    },
  };
}
