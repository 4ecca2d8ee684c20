/**
 * A script worker: a thread that runs workflow scripts in QuickJS compiled to WebAssembly, one at a time.
 * Entry point of its own (bundled beside main.js as workflow-script.thread.js); it imports nothing from the
 * engine but the protocol, the checks of what crosses from the script (workflow-script.crossing.ts), the script
 * instrumentation and the Campaign API prelude (and the error catalogue's codes, @cap/platform-errors).
 *
 * Isolation: each script gets a fresh QuickJS runtime and context with only ECMAScript built-ins and the
 * Campaign API (no require, process, fetch, timers, file or network access: QuickJS's std/os modules are not
 * part of the build). Limits: an interrupt handler stops the script when its CPU time (time executing, host
 * waits excluded) or its wall time is spent; the runtime's memory and stack limits stop allocation and
 * recursion. Host calls (queries, writes…) are synchronous for the script: the worker posts the call and
 * blocks on Atomics.wait until the main thread has answered — only this thread waits, the engine does not.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import {
  newQuickJSWASMModule,
  newVariant,
  RELEASE_SYNC,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
} from 'quickjs-emscripten';
import { ErrorCodes } from '@cap/platform-errors';
import { readCallArgs, readLogLine, readScriptResults } from './workflow-script.crossing';
import { instrumentLoops, lineInStack, LOOP_LINE_GLOBAL, trackAsyncFunctions } from './workflow-script.instrument';
import { CAMPAIGN_PRELUDE } from './workflow-script.prelude';
import {
  PRELUDE_FILENAME,
  SCRIPT_FILENAME,
  type HostCall,
  type HostOp,
  type HostReply,
  type MainToWorker,
  type ScriptFailureKind,
  type ScriptJob,
  type ScriptOutcome,
  type WorkerBootData,
  type WorkerToMain,
} from './workflow-script.protocol';

const port = parentPort!;
const boot = workerData as WorkerBootData;
const hostPort: MessagePort = boot.hostPort;
const signal = new Int32Array(boot.signal);
const cancel = new Int32Array(boot.cancel);
const isCancelled = (jobId: number) => Atomics.load(cancel, 0) === jobId;
/**
 * The WebAssembly memory QuickJS lives in, capped. QuickJS's own heap limit does not count every string (ropes
 * and some string buffers escape it in this build), so the cap is what bounds a script's memory for sure:
 * beyond it malloc fails and QuickJS throws "out of memory". The interrupt handler also stops a script whose
 * run grew the memory by more than its limit, and a worker whose memory grew a lot is replaced after its job
 * (WebAssembly memory never shrinks), so each script starts with room to spare and no more.
 */
const PAGE = 64 * 1024;
const INITIAL_BYTES = 16 * 1024 * 1024;
const capBytes = INITIAL_BYTES + boot.memoryBytes + 16 * 1024 * 1024;
// (The WebAssembly global has no type in this project's ES-only lib setting.)
const { WebAssembly: wasm } = globalThis as unknown as {
  WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer } };
};
const wasmMemory = new wasm.Memory({ initial: INITIAL_BYTES / PAGE, maximum: Math.ceil(capBytes / PAGE) });
const memoryBytes = () => wasmMemory.buffer.byteLength;
const HOST_OPS = new Set<string>(['query', 'write', 'subscription', 'postEvent', 'getOption']);
let callSeq = 0;

const post = (message: WorkerToMain) => port.postMessage(message);

/** Sends a host call and blocks this thread until its answer arrives (or `timeoutMs` passes). */
function callHost(jobId: number, op: HostOp, args: Record<string, unknown>, timeoutMs: number): HostReply {
  const seq = ++callSeq;
  const call: HostCall = { seq, jobId, op, args };
  hostPort.postMessage(call);
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const seen = Atomics.load(signal, 0);
    if (isCancelled(jobId)) return { seq, ok: false, code: ErrorCodes.WORKFLOW_SCRIPT_STOPPED, message: 'the workflow was stopped' };
    const received = receiveMessageOnPort(hostPort);
    if (received) {
      const reply = received.message as HostReply;
      if (reply.seq === seq) return reply;
      continue; // the late answer to a call that timed out earlier
    }
    const remaining = deadline - performance.now();
    if (remaining <= 0) return { seq, ok: false, code: ErrorCodes.WORKFLOW_SCRIPT_TIME_LIMIT, message: `no answer to ${op} before the script's time limit` };
    Atomics.wait(signal, 0, seen, remaining);
  }
}

/** Error texts of a script, as they reach the workflow log: the script chooses them, their size is ours. */
const MAX_ERROR_TEXT = 2_000;
const clip = (text: string) => (text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}…` : text);

/** Reads a thrown QuickJS value: its message, name and the script line it points at. */
function readError(vm: QuickJSContext, handle: QuickJSHandle): { name: string; message: string; line?: number } {
  let dumped: unknown;
  try {
    dumped = vm.dump(handle);
  } catch {
    dumped = undefined;
  }
  if (dumped !== null && typeof dumped === 'object') {
    const e = dumped as { name?: unknown; message?: unknown; stack?: unknown; lineNumber?: unknown; fileName?: unknown };
    const name = typeof e.name === 'string' ? e.name.slice(0, 100) : 'Error';
    const message = typeof e.message === 'string' ? clip(e.message) : clip(JSON.stringify(dumped) ?? '');
    const line = lineInStack(e.stack, SCRIPT_FILENAME) ?? (e.fileName === SCRIPT_FILENAME && typeof e.lineNumber === 'number' ? e.lineNumber : undefined);
    return { name, message, ...(line !== undefined ? { line } : {}) };
  }
  return { name: 'Error', message: dumped === undefined ? 'a value that cannot be read' : clip(String(dumped)) };
}

/** Promise callbacks run per batch; between batches the worker checks whether a limit has stopped the script. */
const JOB_BATCH = 256;

type Trip = 'cpuLimit' | 'wallLimit' | 'memoryLimit' | 'cancelled' | 'protocol';

/** Set when disposing of a script's QuickJS runtime failed: the module may be damaged, the worker is replaced. */
let damaged: string | undefined;
/**
 * What QuickJS's C code printed to stderr during the current job (a failed assertion names a source file): kept
 * for the service log, with the job, rather than written to the process's stderr.
 */
let printed = '';
type EmscriptenOptions = NonNullable<NonNullable<Parameters<typeof newVariant>[1]>['emscriptenModule']>;
const emscriptenModule: EmscriptenOptions = Object.assign({} as EmscriptenOptions, {
  printErr: (text: string) => {
    if (printed.length < 2_000) printed += `${printed === '' ? '' : '\n'}${text}`;
  },
});

function runJob(quickjs: QuickJSWASMModule, job: ScriptJob): ScriptOutcome {
  const { limits } = job;
  const started = performance.now();
  let hostWaitMs = 0;
  let tripped: Trip | undefined;
  /** Why a crossing from the script was refused (tripped = 'protocol'). */
  let refused = '';
  const cpuMs = () => performance.now() - started - hostWaitMs;
  const baseMemory = memoryBytes();

  const rt: QuickJSRuntime = quickjs.newRuntime();
  rt.setMemoryLimit(limits.memoryBytes);
  rt.setMaxStackSize(limits.stackBytes);
  rt.setInterruptHandler(() => {
    if (tripped) return true;
    if (isCancelled(job.jobId)) tripped = 'cancelled';
    else if (performance.now() - started > limits.wallMs) tripped = 'wallLimit';
    else if (cpuMs() > limits.cpuMs) tripped = 'cpuLimit';
    else if (memoryBytes() - baseMemory > limits.memoryBytes) tripped = 'memoryLimit';
    return tripped !== undefined;
  });
  const vm = rt.newContext();
  const handles: QuickJSHandle[] = [];
  const keep = (h: QuickJSHandle) => {
    handles.push(h);
    return h;
  };

  const fail = (kind: ScriptFailureKind, message: string, line?: number): ScriptOutcome => ({
    ok: false,
    kind,
    message,
    ...(line !== undefined ? { line } : {}),
    cpuMs: Math.round(cpuMs()),
  });

  /** The loop the script was in when a limit stopped it (workflow-script.instrument.ts). */
  const loopLine = (): number | undefined => {
    const h = vm.getProp(vm.global, LOOP_LINE_GLOBAL);
    const v = vm.dump(h);
    h.dispose();
    return typeof v === 'number' && v > 0 ? v : undefined;
  };

  /** The failure of a script a limit, Stop or a refused crossing stopped. */
  const stopped = (trip: Trip, fallbackLine?: number): ScriptOutcome => {
    const line = loopLine() ?? fallbackLine;
    switch (trip) {
      case 'cancelled':
        return fail('cancelled', 'the script was interrupted: the workflow was stopped', line);
      case 'cpuLimit':
        return fail('cpuLimit', `the script used more than its CPU time limit of ${limits.cpuMs} ms and was stopped`, line);
      case 'wallLimit':
        return fail(
          'wallLimit',
          `the script ran longer than its time limit of ${limits.wallMs} ms (waits on queries and writes included) and was stopped`,
          line,
        );
      case 'memoryLimit':
        return fail('memoryLimit', `the script used more than its memory limit of ${Math.round(limits.memoryBytes / 1024 / 1024)} MB and was stopped`, line);
      case 'protocol':
        return fail('protocol', refused, line);
    }
  };

  /**
   * What a failed evaluation means: a limit reached, logError, or the script's own error. `reading`: the
   * error came from reading the variables back (a getter of the script threw), not from the script's run.
   */
  const failure = (errorHandle: QuickJSHandle, loggedError: string | null, reading = false): ScriptOutcome => {
    // Whatever ended a script that was being interrupted (the error of a refused host call…): it was stopped.
    if (!tripped && isCancelled(job.jobId)) tripped = 'cancelled';
    const err = readError(vm, errorHandle);
    errorHandle.dispose();
    if (tripped) return stopped(tripped, err.line);
    const exhausted = memoryBytes() + 4 * PAGE >= capBytes;
    if ((err.name === 'InternalError' && /out of memory/.test(err.message)) || (exhausted && err.message === '')) return stopped('memoryLimit', err.line);
    if (err.name === 'InternalError' && /stack overflow/.test(err.message))
      return fail('stackLimit', 'the script recursed too deeply (stack limit reached) and was stopped', err.line);
    if (reading) return fail('protocol', `the script's variables could not be read back: ${err.name}: ${err.message}`, err.line);
    if (loggedError !== null) return fail('logError', `logError: ${clip(loggedError)}`, err.line);
    if (err.name === 'SyntaxError' && err.line !== undefined && /unexpected token in expression: '<'/.test(err.message)) {
      return fail('syntax', `SyntaxError: ${err.message} (E4X XML literals are not supported: write the XML as a string, '<recipient email="…"/>')`, err.line);
    }
    return fail(err.name === 'SyntaxError' ? 'syntax' : 'runtime', `${err.name}: ${err.message}`, err.line);
  };

  try {
    /** A crossing from the script that does not match its schema: the call fails, and the script is stopped. */
    const refuse = (what: string) => {
      refused = `${what} crossed the sandbox boundary malformed`;
      tripped = 'protocol';
      return { error: vm.newError(refused) };
    };
    const host = keep(
      vm.newFunction('host', (opHandle, payloadHandle) => {
        if (vm.typeof(opHandle) !== 'string' || vm.typeof(payloadHandle) !== 'string') return refuse('a host call');
        const op = vm.getString(opHandle);
        const payload = vm.getString(payloadHandle);
        if (op === 'log') {
          const line = readLogLine(payload);
          if (!line) return refuse('a log line');
          post({ type: 'log', jobId: job.jobId, level: line.level, message: line.message });
          return vm.undefined;
        }
        if (!HOST_OPS.has(op)) return refuse('a host call');
        const args = readCallArgs(payload);
        if (!args) return refuse(`the arguments of ${op}`);
        const t0 = performance.now();
        const reply = callHost(job.jobId, op as HostOp, args, Math.max(0, limits.wallMs - (t0 - started)));
        hostWaitMs += performance.now() - t0;
        if (reply.ok) return vm.newString(reply.result);
        const error = vm.newError({ name: 'Error', message: reply.message.startsWith(`${reply.code} `) ? reply.message : `${reply.code} ${reply.message}` });
        vm.setProp(error, 'code', vm.newString(reply.code));
        return { error };
      }),
    );

    const preludeResult = vm.evalCode(CAMPAIGN_PRELUDE, PRELUDE_FILENAME, { type: 'global', strict: true });
    if (preludeResult.error) return failure(preludeResult.error, null);
    const setup = keep(preludeResult.value);
    const inputHandle = keep(vm.newString(JSON.stringify({ ...job.input, variablesMaxBytes: limits.variablesMaxBytes })));
    const setupCall = vm.callFunction(setup, vm.undefined, host, inputHandle);
    if (setupCall.error) return failure(setupCall.error, null);
    const api = keep(setupCall.value);
    const collect = keep(vm.getProp(api, 'collect'));
    const loggedFailure = keep(vm.getProp(api, 'failure'));

    /** The message of logError(), if the script called it. */
    const readLoggedError = (): string | null => {
      const r = vm.callFunction(loggedFailure, vm.undefined);
      if (r.error) {
        r.error.dispose();
        return null;
      }
      const text = vm.typeof(r.value) === 'string' ? vm.getString(r.value) : null;
      r.value.dispose();
      return text;
    };

    const result = vm.evalCode(instrumentLoops(trackAsyncFunctions(job.source)), SCRIPT_FILENAME, { type: 'global' });
    if (result.error) return failure(result.error, tripped ? null : readLoggedError());
    result.value.dispose();
    // Promise callbacks the script queued (async functions) run now, under the same limits, a batch at a time:
    // once a limit has stopped the script, what it queued does not run (a chain without end ends there).
    while (!tripped && !isCancelled(job.jobId) && rt.hasPendingJob()) {
      const jobs = rt.executePendingJobs(JOB_BATCH);
      if (jobs.error) return failure(jobs.error, tripped ? null : readLoggedError());
    }
    // A limit reached in a promise callback rejects that callback's promise; the script is stopped all the same.
    if (tripped) return stopped(tripped);
    // Stopped while it was ending (it caught the error of an interrupted call): its results do not count.
    if (isCancelled(job.jobId)) return fail('cancelled', 'the script was interrupted: the workflow was stopped');

    const collected = vm.callFunction(collect, vm.undefined);
    if (collected.error) return failure(collected.error, null, true);
    const text = vm.typeof(collected.value) === 'string' ? vm.getString(collected.value) : '';
    collected.value.dispose();
    if (tripped) return stopped(tripped);
    const read = readScriptResults(text, limits.variablesMaxBytes);
    if (!read.ok) return fail(read.kind, read.message);
    const { results } = read;
    if (results.failure !== null) return fail('logError', `logError: ${clip(results.failure)}`);
    if (results.rejection !== null) {
      const { name, message, stack } = results.rejection;
      return fail('runtime', `${name.slice(0, 100)}: ${clip(message)} (unhandled promise rejection)`, lineInStack(stack, SCRIPT_FILENAME));
    }
    return {
      ok: true,
      vars: results.vars,
      instanceVars: results.instanceVars,
      taskVars: results.taskVars,
      dropped: results.dropped,
      cpuMs: Math.round(cpuMs()),
    };
  } finally {
    // An exhausted or interrupted QuickJS may fail its own clean-up (a failed assertion aborts the module): the
    // outcome stands, and the worker is replaced after it.
    try {
      for (const h of handles.reverse()) if (h.alive) h.dispose();
      vm.dispose();
      rt.dispose();
    } catch (err) {
      damaged = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
  }
}

async function main(): Promise<void> {
  const quickjs = await newQuickJSWASMModule(newVariant(RELEASE_SYNC, { wasmMemory, emscriptenModule }));
  const recycleAbove = INITIAL_BYTES + boot.memoryBytes / 2;
  port.on('message', (message: MainToWorker) => {
    if (message.type !== 'run') return;
    damaged = undefined;
    printed = '';
    try {
      const outcome = runJob(quickjs, message.job);
      const recycle = damaged !== undefined || memoryBytes() > recycleAbove;
      const detail = [damaged, printed].filter((t) => t !== undefined && t !== '').join('; ');
      post({ type: 'done', jobId: message.job.jobId, outcome, ...(recycle ? { recycle: true } : {}), ...(detail !== '' ? { detail } : {}) });
    } catch (err) {
      // An error on the host side of the sandbox (e.g. the native stack exhausted inside WebAssembly): this
      // worker's QuickJS module may be unusable, so the main thread replaces the worker after this reply. Its
      // text (QuickJS's own messages, with source paths) goes to the service log, not to the workflow's.
      const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      const kind: ScriptFailureKind = /call stack/i.test(text) ? 'stackLimit' : 'internal';
      const outcome: ScriptOutcome = {
        ok: false,
        kind,
        message:
          kind === 'stackLimit'
            ? 'the script recursed too deeply (stack limit reached) and was stopped'
            : 'the script sandbox failed (an internal error); its worker was replaced',
        cpuMs: 0,
      };
      post({ type: 'done', jobId: message.job.jobId, outcome, recycle: true, detail: printed === '' ? text : `${text}; ${printed}` });
    }
  });
  post({ type: 'ready' });
}

void main();
