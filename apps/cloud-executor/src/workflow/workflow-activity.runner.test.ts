import { Writable } from 'node:stream';
import { createLogger } from '@cap/platform-logger';
import type { Pool } from '@cap/platform-postgres';
import { createActivityRunner, type ActivityRunner, type WorkItem, type WorkOutcome } from './workflow-activity.runner';
import type { WorkflowDataAccess } from './workflow-data.access';
import { createScriptSandbox, type ScriptSandbox } from './workflow-script.sandbox';

const quiet = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

/** The scripts of these tests make no data calls. */
const unused = async (): Promise<never> => {
  throw new Error('no data calls in these tests');
};
const data: WorkflowDataAccess = { query: unused, write: unused, subscription: unused, getOption: unused };

let taskSeq = 0;
function jsWork(script: string): WorkItem {
  const id = String(++taskSeq);
  return {
    workflowId: '42',
    internalName: 'WKF42',
    runId: 1,
    attempt: 1,
    instanceVars: { existing: 'kept' },
    task: {
      id,
      activity: 'js',
      activityType: 'js',
      status: 'running',
      vars: { inbound: 1 },
      arrived: [],
      wakeAt: null,
      attempt: 1,
      leaseUntil: null,
      taskVars: {},
    },
    activity: { name: 'js', type: 'js', label: '', transitions: [{ target: 'end' }] as WorkItem['activity']['transitions'], script },
  };
}

function failedWith(outcome: WorkOutcome): Extract<WorkOutcome, { kind: 'failed' }> {
  if (outcome.kind !== 'failed') throw new Error(`expected the activity to fail, got ${JSON.stringify(outcome).slice(0, 500)}`);
  return outcome;
}

/**
 * What the engine records for a JavaScript activity (the outcome its transitions and log depend on), with the
 * real QuickJS sandbox: scripts written to break the engine's side of the sandbox end as failed activities
 * with a WKF code, never as an exception of the engine or as "done".
 */
describe('activity runner: JavaScript activities against hostile scripts', () => {
  let sandbox: ScriptSandbox;
  let runner: ActivityRunner;

  beforeAll(() => {
    sandbox = createScriptSandbox({
      workers: 1,
      limits: { cpuMs: 400, wallMs: 10_000, memoryBytes: 16 * 1024 * 1024, stackBytes: 256 * 1024, variablesMaxBytes: 64 * 1024 },
      logger: quiet,
    });
    runner = createActivityRunner({
      sandbox,
      data,
      pool: {} as Pool,
      schemas: new Map(),
      limits: { queryMaxRows: 10, activityTimeoutMs: 1_000, maxLogLines: 100 },
      postEvent: async () => undefined,
    });
  });
  afterAll(() => sandbox.close());

  it('when an async script throws after an await, then the activity fails with WKF-560030, the error and its line, instead of being done', async () => {
    const outcome = failedWith(await runner.run(jsWork("(async () => {\n  await Promise.resolve();\n  throw new Error('boom');\n})()")));
    expect(outcome).toMatchObject({ code: 'WKF-560030', line: 3 });
    expect(outcome.message).toMatch(/^Error: boom/);
  });

  it('when a script is stopped by its CPU limit inside an async function, then the activity fails with WKF-560031 and none of its variables go out', async () => {
    const outcome = await runner.run(jsWork('vars.sent = "yes";\n(async () => {\n  await null;\n  while (true) {}\n})();'));
    expect(failedWith(outcome)).toMatchObject({
      code: 'WKF-560031',
      line: 4,
      message: 'the script used more than its CPU time limit of 400 ms and was stopped',
    });
  });

  it('when a script chains promise callbacks without end, then the activity fails with a limit code and a message without internal text', async () => {
    const outcome = failedWith(await runner.run(jsWork('function f() {\n  Promise.resolve().then(f);\n  Promise.resolve().then(f);\n}\nf();')));
    expect(['WKF-560031', 'WKF-560032']).toContain(outcome.code);
    expect(outcome.message).not.toMatch(/assert|quickjs|\.c\b|\/|Aborted/i);
  });

  it('when a script puts toJSON on Array.prototype, then the engine does not crash: the activity is done with plain variables and the dropped ones named', async () => {
    const outcome = await runner.run(jsWork('Array.prototype.toJSON = function () { return "shaped"; };\nvars.kept = "text";\nvars.list = [1];'));
    expect(outcome).toMatchObject({
      kind: 'done',
      vars: { inbound: 1, kept: 'text' },
      logs: [{ level: 'warning', message: 'variables not kept (only text, numbers, booleans and dates are): vars.list' }],
    });
  });

  it('when a script leaves variables over WORKFLOW_VARIABLES_MAX_BYTES, then the activity fails with WKF-560037 naming the limit', async () => {
    const outcome = failedWith(await runner.run(jsWork('vars.big = "x".repeat(70 * 1024);')));
    expect(outcome).toMatchObject({
      code: 'WKF-560037',
      message: 'the variables in vars are larger than WORKFLOW_VARIABLES_MAX_BYTES (65536 bytes as JSON) at vars.big',
    });
  });

  it('when reading a variable back throws, then the activity fails with WKF-560038', async () => {
    const outcome = failedWith(
      await runner.run(jsWork('Object.defineProperty(vars, "trap", { enumerable: true, get: function () { throw new Error("gotcha"); } });')),
    );
    expect(outcome).toMatchObject({ code: 'WKF-560038', message: "the script's variables could not be read back: Error: gotcha" });
  });
});
