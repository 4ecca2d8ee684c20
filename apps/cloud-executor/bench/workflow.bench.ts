/**
 * Workflow engine overhead per activity (docs/targets.md: ≤ 20 ms per activity). Run:
 * `npx tsx apps/cloud-executor/bench/workflow.bench.ts` (also `npm run bench -- workflow`). Options:
 * `--activities <n>` (default 200, the chain length), `--runs <n>` (default 5).
 *
 * The engine in-process on a real PostgreSQL database of its own (the cloud-executor migrations applied), with
 * a definition source that returns the chain and a state publisher that sends nothing: what is measured is the
 * engine (its transactions, locking, task bookkeeping, the script sandbox), not Kafka or the gateway.
 *
 *  - control chain: start → N one-transition fork activities → end. xtk:workflow#Start drains it inline (one
 *    transaction per activity); time from the command to its reply, the run finished.
 *  - JavaScript chain: start → N js activities (`vars.i = (vars.i || 0) + 1;`) → end. Each is claimed (one
 *    transaction), run in the QuickJS sandbox (a worker thread), completed (one transaction); time from Start
 *    until the instance is finished (polled every 5 ms).
 *
 * Baselines measured in the same run (the machine is shared and noisy; the ratios say more): one bare
 * transaction doing what a control step does at the least (lock a row, update it, insert a row, commit), and one
 * sandbox run of the same trivial script without the engine.
 */
import { Writable } from 'node:stream';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { loadSchemaRegistry, SOURCE_BUILTIN_SCHEMA_DIR } from '@cap/campaign-files';
import { createLogger } from '@cap/platform-logger';
import { openDatabase, withTransaction, type Pool } from '@cap/platform-postgres';
import { createTestDatabase } from '@cap/platform-testing';
import { createActivityRunner } from '../src/workflow/workflow-activity.runner';
import type { WorkflowDataAccess } from '../src/workflow/workflow-data.access';
import { createScriptSandbox } from '../src/workflow/workflow-script.sandbox';
import { createWorkflowEngine } from '../src/workflow/workflow.engine';
import { createPostgresWorkflowStore } from '../src/workflow/workflow-store.postgres';

const { values: args } = parseArgs({ options: { activities: { type: 'string', default: '200' }, runs: { type: 'string', default: '5' } } });
const N = Math.max(10, Number(args.activities));
const RUNS = Math.max(1, Number(args.runs));
const TARGET_MS = 20;
const SCRIPT = 'vars.i = (vars.i || 0) + 1;';
const log = (text: string) => process.stderr.write(`${text}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const quiet = createLogger({ service: 'bench', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

function controlChain(n: number): string {
  let xml = '<activities><start name="start"><transition target="a0"/></start>';
  for (let i = 0; i < n; i++) xml += `<fork name="a${i}"><transition target="${i + 1 < n ? `a${i + 1}` : 'end'}"/></fork>`;
  return `${xml}<end name="end"/></activities>`;
}

function scriptChain(n: number): string {
  let xml = '<activities><start name="start"><transition target="a0"/></start>';
  for (let i = 0; i < n; i++) xml += `<js name="a${i}"><script>${SCRIPT}</script><transition target="${i + 1 < n ? `a${i + 1}` : 'end'}"/></js>`;
  return `${xml}<end name="end"/></activities>`;
}

async function bareTransactions(pool: Pool, count: number): Promise<number> {
  await pool.query("INSERT INTO cap_wkf_instance (workflow_id, internal_name) VALUES (999999, 'BASELINE') ON CONFLICT DO NOTHING");
  const t = performance.now();
  for (let i = 0; i < count; i++) {
    await withTransaction(pool, async (c) => {
      await c.query('SELECT state FROM cap_wkf_instance WHERE workflow_id = 999999 FOR UPDATE');
      await c.query('UPDATE cap_wkf_instance SET updated_at = now() WHERE workflow_id = 999999');
      await c.query("INSERT INTO cap_wkf_log (workflow_id, run_id, level, message) VALUES (999999, 0, 'info', 'baseline')");
    });
  }
  return (performance.now() - t) / count;
}

async function main() {
  const db = await createTestDatabase('cap_bench_wkf');
  const pool = await openDatabase({
    database: 'cloud',
    url: db.url,
    poolMax: 10,
    applicationName: 'workflow-bench',
    logger: quiet,
    migrationsDir: join(__dirname, '..', 'migrations'),
  });
  const schemas = loadSchemaRegistry({ builtinDir: SOURCE_BUILTIN_SCHEMA_DIR });
  const sandbox = createScriptSandbox({
    workers: 2,
    limits: { cpuMs: 5_000, wallMs: 30_000, memoryBytes: 64 * 1024 * 1024, stackBytes: 256 * 1024 },
    logger: quiet,
  });
  const definitions = new Map<string, string>();
  const noData = async (): Promise<never> => {
    throw new Error('the benchmark scripts make no data calls');
  };
  const data: WorkflowDataAccess = { query: noData, write: noData, subscription: noData, getOption: noData };
  const engine = createWorkflowEngine({
    store: createPostgresWorkflowStore(pool),
    definitions: {
      find: async (ref) =>
        'id' in ref && definitions.has(ref.id) ? { id: ref.id, internalName: `BENCH${ref.id}`, activities: definitions.get(ref.id)! } : undefined,
    },
    publisher: { publish: async () => undefined },
    logger: quiet,
    limits: { maxTasksPerRun: 100_000, maxStepsPerDrain: 100_000, taskLeaseMs: 30_000, workConcurrency: 4 },
    runner: createActivityRunner({
      sandbox,
      data,
      pool,
      schemas,
      limits: { queryMaxRows: 1_000, activityTimeoutMs: 60_000, maxLogLines: 100 },
      postEvent: noData,
    }),
    schemas,
  });
  let nextId = 1;
  const finished = async (id: string) =>
    (await pool.query<{ state: number }>('SELECT state FROM cap_wkf_instance WHERE workflow_id = $1', [id])).rows[0]?.state === 20;

  const runControl = async (): Promise<number> => {
    const id = String(nextId++);
    definitions.set(id, controlChain(N));
    const t = performance.now();
    await engine.command({ command: 'start', workflowId: id }, { until: Date.now() + 600_000 });
    const ms = performance.now() - t;
    if (!(await finished(id))) throw new Error('the control chain did not finish inside the Start command');
    return ms / (N + 2);
  };
  const runScripts = async (n: number): Promise<number> => {
    const id = String(nextId++);
    definitions.set(id, scriptChain(n));
    const t = performance.now();
    await engine.command({ command: 'start', workflowId: id }, { until: Date.now() + 600_000 });
    while (!(await finished(id))) {
      if (performance.now() - t > 600_000) throw new Error('the script chain did not finish');
      await sleep(5);
    }
    const ms = performance.now() - t;
    const count = await pool.query<{ n: number; last: { i?: number } }>(
      "SELECT count(*) FILTER (WHERE activity_type = 'js' AND status = 'done')::int AS n, (array_agg(vars ORDER BY id DESC))[1] AS last FROM cap_wkf_task WHERE workflow_id = $1",
      [id],
    );
    if (count.rows[0]!.n !== n || count.rows[0]!.last.i !== n) throw new Error(`expected ${n} scripts done, got ${JSON.stringify(count.rows[0])}`);
    return ms / (n + 2);
  };
  const bareSandbox = async (count: number): Promise<number> => {
    const host = { call: noData, log: () => undefined };
    const t = performance.now();
    for (let i = 0; i < count; i++) {
      const r = await sandbox.run(
        { source: SCRIPT, input: { vars: { i }, instanceVars: {}, taskVars: {}, instance: { id: '1', internalName: 'B' }, task: { id: '1', activity: 'a' } } },
        host,
      );
      if (!r.ok) throw new Error(r.message);
    }
    return (performance.now() - t) / count;
  };

  try {
    log(
      `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}; Node ${process.version}`,
    );
    const scriptN = Math.max(10, Math.floor(N / 2));
    // Warm-up: JIT, pool connections, sandbox workers.
    await runControl();
    await runScripts(10);
    await bareTransactions(pool, 50);
    await bareSandbox(20);
    const control: number[] = [];
    const scripts: number[] = [];
    const bareTx: number[] = [];
    const bareJs: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      control.push(await runControl());
      scripts.push(await runScripts(scriptN));
      bareTx.push(await bareTransactions(pool, N));
      bareJs.push(await bareSandbox(scriptN));
      log(
        `run ${r + 1}/${RUNS}: control ${control[r]!.toFixed(2)} ms/activity, js ${scripts[r]!.toFixed(2)} ms/activity, bare tx ${bareTx[r]!.toFixed(2)} ms, bare sandbox run ${bareJs[r]!.toFixed(2)} ms`,
      );
    }
    const fmt = (xs: number[]) => `${median(xs).toFixed(2)} ms (range ${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
    const report = [
      `workflow engine overhead, median of ${RUNS} runs (chain of ${N} control activities, ${scriptN} js activities):`,
      `  control activity (fork), per activity:          ${fmt(control)}  target ≤ ${TARGET_MS} ms: ${median(control) <= TARGET_MS ? 'met' : 'NOT met'}`,
      `  JavaScript activity (trivial script), per act.: ${fmt(scripts)}  target ≤ ${TARGET_MS} ms: ${median(scripts) <= TARGET_MS ? 'met' : 'NOT met'}`,
      `  baseline: bare lock+update+insert transaction:  ${fmt(bareTx)}  (control/bare = ${(median(control) / median(bareTx)).toFixed(1)}×)`,
      `  baseline: bare sandbox run of the script:       ${fmt(bareJs)}  (js activity − sandbox run = ${(median(scripts) - median(bareJs)).toFixed(2)} ms of engine)`,
    ];
    process.stdout.write(`${report.join('\n')}\n`);
  } finally {
    await engine.close();
    await sandbox.close();
    await pool.end();
    await db.drop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
