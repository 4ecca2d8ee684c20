import { Writable } from 'node:stream';
import { createLogger } from '@cap/platform-logger';
import { createScriptSandbox, type ScriptHost, type ScriptSandbox } from './workflow-script.sandbox';
import type { HostOp, ScriptInput, ScriptOutcome } from './workflow-script.protocol';

const quiet = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

const input = (over: Partial<ScriptInput> = {}): ScriptInput => ({
  vars: {},
  instanceVars: {},
  taskVars: {},
  instance: { id: '42', internalName: 'WKF42' },
  task: { id: '7', activity: 'js' },
  ...over,
});

interface FakeHost extends ScriptHost {
  calls: { op: HostOp; args: unknown }[];
  logs: { level: string; message: string }[];
}

function fakeHost(answer: (op: HostOp, args: unknown) => Promise<unknown> = async () => null): FakeHost {
  const calls: FakeHost['calls'] = [];
  const logs: FakeHost['logs'] = [];
  return {
    calls,
    logs,
    call: async (op, args) => {
      calls.push({ op, args });
      return answer(op, args);
    },
    log: (level, message) => logs.push({ level, message }),
  };
}

function failed(outcome: ScriptOutcome): Extract<ScriptOutcome, { ok: false }> {
  if (outcome.ok) throw new Error(`expected a failure, got ${JSON.stringify(outcome)}`);
  return outcome;
}

describe('workflow script sandbox (QuickJS in a worker thread)', () => {
  let sandbox: ScriptSandbox;
  const CPU_MS = 400;

  beforeAll(() => {
    sandbox = createScriptSandbox({
      workers: 2,
      limits: { cpuMs: CPU_MS, wallMs: 10_000, memoryBytes: 16 * 1024 * 1024, stackBytes: 256 * 1024 },
      logger: quiet,
    });
  });
  afterAll(() => sandbox.close());

  it('when a script reads and sets vars, instance.vars and task.vars and logs, then the engine gets them back', async () => {
    const host = fakeHost();
    const outcome = await sandbox.run(
      {
        source: [
          'logInfo("hello", instance.internalName, task.activity, vars.count);',
          'vars.count = vars.count + 1;',
          'vars.when = new Date(Date.UTC(2026, 0, 2));',
          'instance.vars.mode = "full"; delete instance.vars.old;',
          'task.vars.local = true;',
          'vars.bad = { nested: 1 };',
          'logWarning({ a: 1 });',
        ].join('\n'),
        input: input({ vars: { count: 41 }, instanceVars: { old: 'x', keep: 'y' } }),
      },
      host,
    );
    expect(outcome).toMatchObject({
      ok: true,
      vars: { count: 42, when: '2026-01-02T00:00:00.000Z' },
      instanceVars: { mode: 'full', keep: 'y' },
      taskVars: { local: true },
      dropped: ['vars.bad'],
    });
    expect(host.logs).toEqual([
      { level: 'info', message: 'hello WKF42 js 41' },
      { level: 'warning', message: '{"a":1}' },
    ]);
  });

  it('when a script loops forever, then it is stopped within its CPU limit and the failure names the loop line', async () => {
    const started = Date.now();
    const outcome = failed(await sandbox.run({ source: 'var n = 0;\nlogInfo("spinning");\n\nwhile (true) {\n  n++;\n}', input: input() }, fakeHost()));
    const elapsed = Date.now() - started;
    expect(outcome).toMatchObject({ kind: 'cpuLimit', line: 4 });
    expect(outcome.message).toContain(`CPU time limit of ${CPU_MS} ms`);
    expect(elapsed).toBeLessThan(CPU_MS + 1_500);
    // A loop that calls functions, nested in a function, reports the loop too.
    const nested = failed(await sandbox.run({ source: 'function spin() {\n  for (;;) Math.sqrt(2);\n}\nspin();', input: input() }, fakeHost()));
    expect(nested).toMatchObject({ kind: 'cpuLimit', line: 2 });
  });

  it('when a script catches the interruption, then it is stopped anyway', async () => {
    const outcome = failed(
      await sandbox.run({ source: 'try {\n  while (true) {}\n} catch (e) {}\nvars.escaped = true;\nwhile (true) {}', input: input() }, fakeHost()),
    );
    expect(outcome.kind).toBe('cpuLimit');
    expect(outcome.line).toBe(2);
  });

  it('when the engine waits for a runaway script, then its own event loop keeps turning', async () => {
    const lags: number[] = [];
    let last = Date.now();
    const timer = setInterval(() => {
      const now = Date.now();
      lags.push(now - last - 10);
      last = now;
    }, 10);
    try {
      failed(await sandbox.run({ source: 'while (true) {}', input: input() }, fakeHost()));
    } finally {
      clearInterval(timer);
    }
    expect(lags.length).toBeGreaterThan(10);
    expect(Math.max(...lags)).toBeLessThan(200);
  });

  it('when a script allocates without bound, then it is stopped at its memory limit', async () => {
    // A generous CPU limit here: on a busy machine the memory limit must be what stops these scripts.
    const roomy = createScriptSandbox({
      workers: 1,
      limits: { cpuMs: 20_000, wallMs: 30_000, memoryBytes: 16 * 1024 * 1024, stackBytes: 256 * 1024 },
      logger: quiet,
    });
    try {
      await checkMemoryLimit(roomy);
    } finally {
      await roomy.close();
    }
  });

  async function checkMemoryLimit(sandbox: ScriptSandbox): Promise<void> {
    const objects = failed(await sandbox.run({ source: 'var keep = [];\nwhile (true) {\n  keep.push({ n: keep.length });\n}', input: input() }, fakeHost()));
    expect(objects.kind).toBe('memoryLimit');
    expect(objects.message).toContain('memory limit of 16 MB');
    expect(objects.line).toBe(2); // the loop that kept allocating
    // Strings (which QuickJS's own heap limit does not fully count) are stopped too.
    const strings = failed(await sandbox.run({ source: 'var keep = [];\n\nfor (;;) keep.push("x".repeat(1000) + keep.length);', input: input() }, fakeHost()));
    expect(strings.kind).toBe('memoryLimit');
    expect(strings.line).toBe(3);
    const huge = failed(await sandbox.run({ source: 'var s = "q".repeat(400 * 1024 * 1024);', input: input() }, fakeHost()));
    expect(huge.kind).toBe('memoryLimit');
    // The sandbox is usable afterwards.
    expect(await sandbox.run({ source: 'vars.x = [1, 2, 3].map(function (n) { return n * 2; }).join();', input: input() }, fakeHost())).toMatchObject({
      ok: true,
      vars: { x: '2,4,6' },
    });
  }

  it('when a script recurses without end, then it is stopped at the stack limit', async () => {
    const outcome = failed(await sandbox.run({ source: 'function f(n) { return f(n + 1) + 1; }\nf(0);', input: input() }, fakeHost()));
    expect(outcome.kind).toBe('stackLimit');
    expect(outcome.line).toBe(1);
  });

  it('when a script looks for require, process, fetch, timers or file access, then none of them exists', async () => {
    const host = fakeHost();
    const outcome = await sandbox.run(
      {
        source:
          "logInfo([typeof require, typeof process, typeof fetch, typeof setTimeout, typeof std, typeof os, typeof Deno, typeof XMLHttpRequest, typeof WebAssembly].join(','));",
        input: input(),
      },
      host,
    );
    expect(outcome.ok).toBe(true);
    expect(host.logs[0]!.message).toBe(Array(9).fill('undefined').join(','));
    const req = failed(await sandbox.run({ source: '// read a file\nvar fs = require("fs");', input: input() }, fakeHost()));
    expect(req).toMatchObject({ kind: 'runtime', line: 2 });
    expect(req.message).toContain("'require' is not defined");
    const imp = await sandbox.run(
      { source: 'import("os").then(function () { vars.os = "loaded"; }, function (e) { vars.err = String(e); });', input: input() },
      fakeHost(),
    );
    expect(imp.ok && imp.vars).toEqual({ err: expect.stringContaining('os') });
  });

  it('when a script has a syntax error, then the failure gives its line (and says how to write E4X literals)', async () => {
    const syntax = failed(await sandbox.run({ source: 'var a = 1;\nvar b = ;\n', input: input() }, fakeHost()));
    expect(syntax).toMatchObject({ kind: 'syntax', line: 2 });
    expect(syntax.message).toMatch(/^SyntaxError: /);
    const e4x = failed(await sandbox.run({ source: 'var a = 1;\n\nvar r = <recipient email="a@b.c"/>;', input: input() }, fakeHost()));
    expect(e4x).toMatchObject({ kind: 'syntax', line: 3 });
    expect(e4x.message).toContain('E4X XML literals are not supported');
  });

  it('when a script throws at run time, then the failure gives the line and the message', async () => {
    const outcome = failed(await sandbox.run({ source: 'var o = {};\nlogInfo("before");\nvar x = o.missing.field;', input: input() }, fakeHost()));
    expect(outcome).toMatchObject({ kind: 'runtime', line: 3 });
    expect(outcome.message).toBe("TypeError: cannot read property 'field' of undefined");
    const thrown = failed(await sandbox.run({ source: '\n\nthrow new Error("stop here");', input: input() }, fakeHost()));
    expect(thrown).toMatchObject({ kind: 'runtime', line: 3, message: 'Error: stop here' });
  });

  it('when a script calls logError, then it fails even if it catches the exception', async () => {
    const host = fakeHost();
    const outcome = failed(await sandbox.run({ source: 'try {\n  logError("bad input", 3);\n} catch (e) {}\nvars.after = 1;', input: input() }, host));
    expect(outcome).toMatchObject({ kind: 'logError', message: 'logError: bad input 3' });
    expect(host.logs).toEqual([{ level: 'error', message: 'bad input 3' }]);
  });

  it('when a script calls the Campaign API, then each call reaches the host synchronously and errors are catchable exceptions with their code', async () => {
    const host = fakeHost(async (op, args) => {
      if (op === 'query') return { recipient: [{ email: 'a@example.com' }, { email: 'b@example.com' }] };
      if (op === 'getOption') {
        await new Promise((r) => setTimeout(r, 600)); // longer than the CPU limit: waiting on the host does not count
        return 'value-of-' + (args as { name: string }).name;
      }
      if (op === 'write' && (args as { mode: string }).mode === 'ingest') return 'uuid-1';
      if (op === 'write') throw Object.assign(new Error('XTK-170102 unknown attribute @nope'), { code: 'XTK-170102' });
      return null;
    });
    const outcome = await sandbox.run(
      {
        source: [
          'var res = xtk.queryDef.create({ queryDef: { schema: "nms:recipient", operation: "select", select: { node: [{ expr: "@email" }] } } }).ExecuteQuery();',
          'vars.count = res.recipient.length;',
          'vars.first = res.recipient[0].email;',
          'vars.opt = getOption("NmsServer_URL");',
          'vars.id = xtk.session.Ingest(\'<recipientStg xtkschema="nms:recipientStg" email="x@y.z"/>\');',
          'try { xtk.session.Write({ xtkschema: "nms:recipient", nope: 1 }); } catch (e) { vars.code = e.code; vars.msg = e.message; }',
          'xtk.workflow.PostEvent("WKF2", "signal", "", { a: "1" }, true);',
          'nms.subscription.Subscribe("NEWS", { email: "x@y.z" }, true);',
          'NLWS.xtkQueryDef.create(\'<queryDef schema="nms:recipient" operation="count"/>\').executeQuery();',
        ].join('\n'),
        input: input(),
      },
      host,
    );
    expect(outcome).toMatchObject({
      ok: true,
      vars: { count: 2, first: 'a@example.com', opt: 'value-of-NmsServer_URL', id: 'uuid-1', code: 'XTK-170102', msg: 'XTK-170102 unknown attribute @nope' },
    });
    expect(host.calls.map((c) => c.op)).toEqual(['query', 'getOption', 'write', 'write', 'postEvent', 'subscription', 'query']);
    expect(host.calls[2]!.args).toEqual({ mode: 'ingest', doc: { xml: '<recipientStg xtkschema="nms:recipientStg" email="x@y.z"/>' } });
    expect(host.calls[4]!.args).toEqual({ workflowId: 'WKF2', activity: 'signal', transition: '', variables: { json: { a: '1' } }, complete: true });
    expect(host.calls[5]!.args).toEqual({ action: 'subscribe', services: 'NEWS', recipient: { json: { email: 'x@y.z' } }, create: true });
    expect(host.calls[6]!.args).toEqual({ xml: '<queryDef schema="nms:recipient" operation="count"/>' });
  });

  it('when a host call fails and the script does not catch it, then the failure names the code and the line', async () => {
    const host = fakeHost(async () => {
      throw Object.assign(new Error('XTK-170036 Unable to parse expression'), { code: 'XTK-170036' });
    });
    const outcome = failed(await sandbox.run({ source: 'var q = xtk.queryDef.create("<queryDef/>");\n\nq.ExecuteQuery();', input: input() }, host));
    expect(outcome).toMatchObject({ kind: 'runtime', line: 3, message: 'Error: XTK-170036 Unable to parse expression' });
  });

  it('when a script tries to replace the Campaign globals or the built-ins the API uses, then the API and the variables still work', async () => {
    const host = fakeHost(async () => 'v');
    const outcome = await sandbox.run(
      {
        source: [
          'try { xtk.session.Write = null; } catch (e) { vars.readOnly = e.name; }',
          'vars.ok = typeof xtk.session.Write;',
          'try { instance.vars = {}; } catch (e) { vars.err = e.name; }',
          'JSON.stringify = function () { return "{}"; }; JSON.parse = function () { return {}; };',
          'Object.keys = function () { return []; }; Array.prototype.forEach = function () {};',
          'vars.opt = getOption("x");',
        ].join('\n'),
        input: input(),
      },
      host,
    );
    expect(outcome).toMatchObject({ ok: true, vars: { ok: 'function', opt: 'v', readOnly: 'TypeError' } });
  });

  it('when many scripts run at once, then each gets its own globals', async () => {
    const outcomes = await Promise.all(
      [1, 2, 3, 4, 5].map((n) =>
        sandbox.run(
          { source: `var mine = ${n};\nglobalThis.shared = (globalThis.shared || 0) + 1;\nvars.n = mine; vars.shared = shared;`, input: input() },
          fakeHost(),
        ),
      ),
    );
    expect(outcomes.map((o) => (o.ok ? [o.vars['n'], o.vars['shared']] : o.message))).toEqual([1, 2, 3, 4, 5].map((n) => [n, 1]));
    expect(sandbox.stats().workers).toBeLessThanOrEqual(2);
  });
  it('when a running script is aborted (Stop), then only that script is interrupted at its loop line, and the other one finishes', async () => {
    const spinning = new AbortController();
    const startedAt = Date.now();
    const runaway = sandbox.run(
      { source: 'var n = 0;\nwhile (true) {\n  n++;\n}', input: input(), limits: { cpuMs: 60_000 }, signal: spinning.signal },
      fakeHost(),
    );
    const other = sandbox.run({ source: 'var t = Date.now();\nwhile (Date.now() - t < 300) {}\nvars.done = true;', input: input() }, fakeHost());
    await new Promise((resolve) => setTimeout(resolve, 200));
    spinning.abort();
    const stopped = failed(await runaway);
    expect(stopped).toMatchObject({ kind: 'cancelled', message: 'the script was interrupted: the workflow was stopped', line: 2 });
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    expect(await other).toMatchObject({ ok: true, vars: { done: true } });
    // The worker was not replaced: the next script runs on it.
    expect(await sandbox.run({ source: 'vars.after = 1;', input: input() }, fakeHost())).toMatchObject({ ok: true, vars: { after: 1 } });
  });

  it('when a script waiting on a host call is aborted, then the call returns at once, later calls are refused and the script ends cancelled', async () => {
    const controller = new AbortController();
    let release: (() => void) | undefined;
    const host = fakeHost((op) => (op === 'query' ? new Promise((resolve) => (release = () => resolve({ recipient: [] }))) : Promise.resolve(null)));
    const running = sandbox.run(
      {
        source:
          'try { xtk.queryDef.create({ schema: "nms:recipient" }).ExecuteQuery(); } catch (e) { vars.code = e.code; }\nxtk.session.Write({ xtkschema: "nms:recipient", email: "late@example.com" });',
        input: input(),
        signal: controller.signal,
      },
      host,
    );
    while (host.calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    expect(failed(await running).kind).toBe('cancelled');
    release?.();
    expect(host.calls.map((c) => c.op)).toEqual(['query']);
  });

  it('when a script is aborted before a worker takes it, then it never runs', async () => {
    const busy = [1, 2].map(() => sandbox.run({ source: 'var t = Date.now();\nwhile (Date.now() - t < 300) {}', input: input() }, fakeHost()));
    const controller = new AbortController();
    const host = fakeHost();
    const queued = sandbox.run({ source: 'getOption("x");', input: input(), signal: controller.signal }, host);
    controller.abort();
    expect(failed(await queued).kind).toBe('cancelled');
    await Promise.all(busy);
    expect(host.calls).toEqual([]);
  });
});

describe('workflow script sandbox: hostile and careless scripts', () => {
  let sandbox: ScriptSandbox;
  const CPU_MS = 400;
  const VARIABLES_MAX_BYTES = 64 * 1024;

  beforeAll(() => {
    sandbox = createScriptSandbox({
      workers: 1,
      limits: { cpuMs: CPU_MS, wallMs: 10_000, memoryBytes: 16 * 1024 * 1024, stackBytes: 256 * 1024, variablesMaxBytes: VARIABLES_MAX_BYTES },
      logger: quiet,
    });
  });
  afterAll(() => sandbox.close());

  it('when an async function or a promise callback throws after an await and nothing handles it, then the script fails with that error and its line', async () => {
    const iife = failed(
      await sandbox.run({ source: "(async () => {\n  await Promise.resolve();\n  throw new Error('boom');\n})()", input: input() }, fakeHost()),
    );
    expect(iife).toMatchObject({ kind: 'runtime', line: 3 });
    expect(iife.message).toMatch(/^Error: boom/);
    const main = failed(
      await sandbox.run(
        { source: 'async function main() {\n  await null;\n  var o = {};\n  return o.missing.field;\n}\nmain();\nvars.after = 1;', input: input() },
        fakeHost(),
      ),
    );
    expect(main).toMatchObject({ kind: 'runtime', line: 4 });
    expect(main.message).toMatch(/^TypeError: cannot read property 'field' of undefined/);
    const callback = failed(
      await sandbox.run({ source: "Promise.resolve(1).then(function (n) {\n  throw new RangeError('late ' + n);\n});", input: input() }, fakeHost()),
    );
    expect(callback).toMatchObject({ kind: 'runtime', line: 2 });
    expect(callback.message).toMatch(/^RangeError: late 1/);
  });

  it('when async code handles its rejections (await in try, catch, then), then the script succeeds and async functions, arrows and methods keep their meaning', async () => {
    const source = [
      'async function fails(why) { await null; throw new Error(why); }',
      'var o = { factor: 3, async times(x, y = 1) { await null; return x * y * this.factor; } };',
      'class Box { constructor(v) { this.v = v; } static async of(v) { await null; return new Box(v); } async get() { return this.v; } }',
      'var double = async (n) => { await null; return n * 2; };',
      'var inc = async n => n + 1;',
      '(async function () {',
      '  try { await fails("first"); } catch (e) { vars.caught = e.message; }',
      '  vars.times = await o.times(2, 5);',
      '  vars.box = await (await Box.of("in a box")).get();',
      '  vars.double = await double(21);',
      '  vars.inc = await inc(1);',
      '})();',
      'fails("second").catch(function (e) { vars.second = e.message; });',
      'fails("third").then(null, function (e) { vars.third = e.message; });',
      'Promise.allSettled([fails("fourth")]).then(function (r) { vars.fourth = r[0].status; });',
      'vars.isPromise = fails("fifth").catch(function () {}) instanceof Promise;',
    ].join('\n');
    const outcome = await sandbox.run({ source, input: input() }, fakeHost());
    expect(outcome).toMatchObject({
      ok: true,
      vars: { caught: 'first', times: 30, box: 'in a box', double: 42, inc: 2, second: 'second', third: 'third', fourth: 'rejected', isPromise: true },
    });
  });

  it('when a script reaches its CPU limit inside an async function or a promise callback, then it fails with cpuLimit at the loop line and its variables do not count', async () => {
    const started = Date.now();
    const loop = failed(await sandbox.run({ source: '(async () => {\n  await null;\n  while (true) {}\n})();\nvars.b = 1;', input: input() }, fakeHost()));
    expect(loop).toMatchObject({ kind: 'cpuLimit', line: 3 });
    expect(loop.message).toContain(`CPU time limit of ${CPU_MS} ms`);
    expect(Date.now() - started).toBeLessThan(CPU_MS + 2_000);
    const recursion = failed(await sandbox.run({ source: 'async function f() {\n  await null;\n  f();\n}\nf();', input: input() }, fakeHost()));
    expect(recursion.kind).toBe('cpuLimit');
  });

  it('when a script queues promise callbacks without end, then a limit stops it with a plain message and the worker runs the next script', async () => {
    for (const source of [
      'function f() { Promise.resolve().then(f); }\nf();',
      'function f() {\n  Promise.resolve().then(f);\n  Promise.resolve().then(f);\n}\nf();',
    ]) {
      const outcome = failed(await sandbox.run({ source, input: input() }, fakeHost()));
      expect(['cpuLimit', 'memoryLimit']).toContain(outcome.kind);
      expect(outcome.message).toMatch(/^the script used more than its (CPU time|memory) limit of \d+ (ms|MB) and was stopped$/);
    }
    expect(await sandbox.run({ source: 'vars.next = "ran";', input: input() }, fakeHost())).toMatchObject({ ok: true, vars: { next: 'ran' } });
  });

  it('when a script puts toJSON on the prototypes, getters on its variables or replaces the built-ins the API uses, then variables, log lines and calls still reach the engine as plain values', async () => {
    const host = fakeHost(async () => 'v');
    const source = [
      'Array.prototype.toJSON = function () { return 5; };',
      'Object.prototype.toJSON = function () { return "shaped"; };',
      'Date.prototype.toISOString = function () { return { not: "text" }; };',
      'Array.prototype.join = function () { return 7; };',
      'Array.prototype.push = function () { throw new Error("no push"); };',
      'isFinite = function () { return true; }; String = function () { return 9; };',
      'vars.n = 1; vars.s = "text"; vars.nan = NaN; vars.nested = { a: 1 }; vars.list = [1, 2];',
      'Object.defineProperty(vars, "computed", { enumerable: true, get: function () { return "from a getter"; } });',
      'vars.when = new Date(Date.UTC(2026, 0, 2));',
      'instance.vars.p = new Proxy({}, { get: function () { return "proxied"; } });',
      'logInfo("hello", 42);',
      'xtk.session.Write({ xtkschema: "nms:recipient", email: "a@b.c" });',
      'vars.opt = getOption("x");',
    ].join('\n');
    const outcome = await sandbox.run({ source, input: input() }, host);
    expect(outcome).toEqual({
      ok: true,
      // The date is still written with the built-in toISOString, taken before the script ran.
      vars: { n: 1, s: 'text', computed: 'from a getter', when: '2026-01-02T00:00:00.000Z', opt: 'v' },
      instanceVars: {},
      taskVars: {},
      dropped: ['vars.nan', 'vars.nested', 'vars.list', 'instance.vars.p'],
      cpuMs: expect.any(Number),
    });
    expect(host.logs).toEqual([{ level: 'info', message: 'hello 42' }]);
    expect(host.calls.map((c) => c.op)).toEqual(['write', 'getOption']);
    expect(host.calls[0]!.args).toEqual({ mode: 'write', doc: { json: 'shaped' } });
    expect(host.calls[1]!.args).toEqual({ name: 'x' });
  });

  it('when a getter of a variable throws when the variables are read back, then the script fails with a malformed-result failure that names it', async () => {
    const outcome = failed(
      await sandbox.run(
        { source: 'Object.defineProperty(task.vars, "trap", { enumerable: true, get: function () { throw new Error("gotcha"); } });', input: input() },
        fakeHost(),
      ),
    );
    expect(outcome.kind).toBe('protocol');
    expect(outcome.message).toBe("the script's variables could not be read back: Error: gotcha");
  });

  it('when a script assigns to the read-only bindings or to their objects, then each assignment throws and changes nothing the engine sees', async () => {
    const host = fakeHost(async () => 'v');
    const source = [
      'var results = {};',
      'function attempt(name, f) { try { f(); results[name] = "allowed"; } catch (e) { results[name] = e.name; } }',
      'attempt("xtk", function () { xtk = 1; });',
      'attempt("nms", function () { nms = 1; });',
      'attempt("NLWS", function () { NLWS = {}; });',
      'attempt("vars", function () { vars = {}; });',
      'attempt("instance", function () { instance = {}; });',
      'attempt("task", function () { task = {}; });',
      'attempt("logInfo", function () { logInfo = null; });',
      'attempt("getOption", function () { getOption = function () { return "forged"; }; });',
      'attempt("instance.id", function () { instance.id = "x"; });',
      'attempt("instance.vars", function () { instance.vars = { forged: true }; });',
      'attempt("task.activity", function () { task.activity = "x"; });',
      'attempt("xtk.session.Write", function () { xtk.session.Write = function () {}; });',
      'attempt("xtk.session", function () { xtk.session = {}; });',
      'attempt("NLWS.xtkSession.write", function () { NLWS.xtkSession.write = null; });',
      'attempt("delete xtk.workflow", function () { delete xtk.workflow; });',
      'attempt("defineProperty", function () { Object.defineProperty(globalThis, "logWarning", { value: 1 }); });',
      'attempt("instance.vars.x", function () { instance.vars.x = "allowed"; });',
      'logInfo("logged", instance.id, task.activity);',
      'xtk.session.Write({ xtkschema: "nms:recipient", email: "a@b.c" });',
      'var out = []; for (var k in results) out[out.length] = k + "=" + results[k];',
      'vars.results = out.join(";");',
      'vars.opt = getOption("x");',
    ].join('\n');
    const outcome = await sandbox.run({ source, input: input() }, host);
    expect(outcome.ok).toBe(true);
    const results = Object.fromEntries(
      String(outcome.ok && outcome.vars['results'])
        .split(';')
        .map((kv) => kv.split('=')),
    );
    expect(results).toEqual({
      xtk: 'TypeError',
      nms: 'TypeError',
      NLWS: 'TypeError',
      vars: 'TypeError',
      instance: 'TypeError',
      task: 'TypeError',
      logInfo: 'TypeError',
      getOption: 'TypeError',
      'instance.id': 'TypeError',
      'instance.vars': 'TypeError',
      'task.activity': 'TypeError',
      'xtk.session.Write': 'TypeError',
      'xtk.session': 'TypeError',
      'NLWS.xtkSession.write': 'TypeError',
      'delete xtk.workflow': 'TypeError',
      defineProperty: 'TypeError',
      'instance.vars.x': 'allowed',
    });
    expect(outcome).toMatchObject({ ok: true, vars: { opt: 'v' }, instanceVars: { x: 'allowed' } });
    expect(host.logs).toEqual([{ level: 'info', message: 'logged 42 js' }]);
    expect(host.calls.map((c) => c.op)).toEqual(['write', 'getOption']);
  });

  it('when the variables a script leaves are over the size limit, then it fails naming WORKFLOW_VARIABLES_MAX_BYTES and the variable', async () => {
    const one = failed(await sandbox.run({ source: `vars.small = 1;\nvars.big = "x".repeat(${VARIABLES_MAX_BYTES + 1});`, input: input() }, fakeHost()));
    expect(one.kind).toBe('variablesLimit');
    expect(one.message).toBe(`the variables in vars are larger than WORKFLOW_VARIABLES_MAX_BYTES (${VARIABLES_MAX_BYTES} bytes as JSON) at vars.big`);
    // Many variables of one scope count together; text is counted in UTF-8 bytes.
    const many = failed(await sandbox.run({ source: 'for (var i = 0; i < 100; i++) instance.vars["k" + i] = "y".repeat(1000);', input: input() }, fakeHost()));
    expect(many).toMatchObject({
      kind: 'variablesLimit',
      message: expect.stringContaining('the variables in instance.vars are larger than WORKFLOW_VARIABLES_MAX_BYTES'),
    });
    const wide = failed(
      await sandbox.run({ source: `task.vars.accents = "é".repeat(${Math.ceil(VARIABLES_MAX_BYTES / 2) + 10});`, input: input() }, fakeHost()),
    );
    expect(wide).toMatchObject({
      kind: 'variablesLimit',
      message: expect.stringContaining('the variables in task.vars are larger than WORKFLOW_VARIABLES_MAX_BYTES'),
    });
    // Just under the limit is kept.
    const under = await sandbox.run({ source: `vars.fits = "z".repeat(${VARIABLES_MAX_BYTES - 100});`, input: input() }, fakeHost());
    expect(under.ok && String(under.vars['fits']).length).toBe(VARIABLES_MAX_BYTES - 100);
  });

  it('when a script leaves a 30 MB variable, then it fails naming the variables limit, not an unreadable result', async () => {
    const roomy = createScriptSandbox({
      workers: 1,
      limits: { cpuMs: 20_000, wallMs: 30_000, memoryBytes: 64 * 1024 * 1024, stackBytes: 256 * 1024, variablesMaxBytes: 256 * 1024 },
      logger: quiet,
    });
    try {
      const outcome = failed(await roomy.run({ source: 'vars.huge = "x".repeat(30 * 1024 * 1024);', input: input() }, fakeHost()));
      expect(outcome).toMatchObject({
        kind: 'variablesLimit',
        message: expect.stringContaining('WORKFLOW_VARIABLES_MAX_BYTES (262144 bytes as JSON) at vars.huge'),
      });
    } finally {
      await roomy.close();
    }
  });
});
