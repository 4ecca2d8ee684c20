/**
 * A script worker: a thread that runs workflow scripts in QuickJS compiled to WebAssembly, one at a time.
 * Entry point of its own (bundled beside main.js as workflow-script.thread.js); it imports nothing from the
 * engine but the protocol, the loop instrumentation and the Campaign API prelude.
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
import { newQuickJSWASMModule, newVariant, RELEASE_SYNC, type QuickJSContext, type QuickJSHandle, type QuickJSRuntime, type QuickJSWASMModule } from 'quickjs-emscripten';
import { instrumentLoops, lineInStack, LOOP_LINE_GLOBAL } from './workflow-script.instrument';
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
  type ScriptVars,
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
const { WebAssembly: wasm } = globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer } } };
const wasmMemory = new wasm.Memory({ initial: INITIAL_BYTES / PAGE, maximum: Math.ceil(capBytes / PAGE) });
const memoryBytes = () => wasmMemory.buffer.byteLength;
const HOST_OPS = new Set<string>(['query', 'write', 'subscription', 'postEvent', 'getOption']);
let callSeq = 0;

const post = (message: WorkerToMain) => port.postMessage(message);

/** Sends a host call and blocks this thread until its answer arrives (or `timeoutMs` passes). */
function callHost(jobId: number, op: HostOp, payload: string, timeoutMs: number): HostReply {
  const seq = ++callSeq;
  const call: HostCall = { seq, jobId, op, payload };
  hostPort.postMessage(call);
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const seen = Atomics.load(signal, 0);
    if (isCancelled(jobId)) return { seq, ok: false, code: 'WKF-560035', message: 'the workflow was stopped' };
    const received = receiveMessageOnPort(hostPort);
    if (received) {
      const reply = received.message as HostReply;
      if (reply.seq === seq) return reply;
      continue; // the late answer to a call that timed out earlier
    }
    const remaining = deadline - performance.now();
    if (remaining <= 0) return { seq, ok: false, code: 'WKF-560033', message: `no answer to ${op} before the script's time limit` };
    Atomics.wait(signal, 0, seen, remaining);
  }
}

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
    const name = typeof e.name === 'string' ? e.name : 'Error';
    const message = typeof e.message === 'string' ? e.message : JSON.stringify(dumped).slice(0, 500);
    const line = lineInStack(e.stack, SCRIPT_FILENAME) ?? (e.fileName === SCRIPT_FILENAME && typeof e.lineNumber === 'number' ? e.lineNumber : undefined);
    return { name, message, ...(line !== undefined ? { line } : {}) };
  }
  return { name: 'Error', message: dumped === undefined ? 'a value that cannot be read' : String(dumped).slice(0, 2_000) };
}

function runJob(quickjs: QuickJSWASMModule, job: ScriptJob): ScriptOutcome {
  const { limits } = job;
  const started = performance.now();
  let hostWaitMs = 0;
  let tripped: 'cpuLimit' | 'wallLimit' | 'memoryLimit' | 'cancelled' | undefined;
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

  const fail = (kind: ScriptFailureKind, message: string, line?: number): ScriptOutcome => ({ ok: false, kind, message, ...(line !== undefined ? { line } : {}), cpuMs: Math.round(cpuMs()) });

  /** What a failed evaluation means: a limit reached, logError, or the script's own error. */
  const failure = (errorHandle: QuickJSHandle, loggedError: string | null): ScriptOutcome => {
    // Whatever ended a script that was being interrupted (the error of a refused host call…): it was stopped.
    if (!tripped && isCancelled(job.jobId)) tripped = 'cancelled';
    const err = readError(vm, errorHandle);
    errorHandle.dispose();
    let loopLine: number | undefined;
    if (tripped) {
      const h = vm.getProp(vm.global, LOOP_LINE_GLOBAL);
      const v = vm.dump(h);
      h.dispose();
      if (typeof v === 'number' && v > 0) loopLine = v;
    }
    const line = loopLine ?? err.line;
    if (tripped === 'cancelled') return fail('cancelled', 'the script was interrupted: the workflow was stopped', line);
    if (tripped === 'cpuLimit') return fail('cpuLimit', `the script used more than its CPU time limit of ${limits.cpuMs} ms and was stopped`, line);
    if (tripped === 'wallLimit') return fail('wallLimit', `the script ran longer than its time limit of ${limits.wallMs} ms (waits on queries and writes included) and was stopped`, line);
    const exhausted = memoryBytes() + 4 * PAGE >= capBytes;
    if (tripped === 'memoryLimit' || (err.name === 'InternalError' && /out of memory/.test(err.message)) || (exhausted && err.message === '')) {
      return fail('memoryLimit', `the script used more than its memory limit of ${Math.round(limits.memoryBytes / 1024 / 1024)} MB and was stopped`, line);
    }
    if (err.name === 'InternalError' && /stack overflow/.test(err.message)) return fail('stackLimit', 'the script recursed too deeply (stack limit reached) and was stopped', line);
    if (loggedError !== null) return fail('logError', `logError: ${loggedError}`, line);
    if (err.name === 'SyntaxError' && line !== undefined && /unexpected token in expression: '<'/.test(err.message)) {
      return fail('syntax', `SyntaxError: ${err.message} (E4X XML literals are not supported: write the XML as a string, '<recipient email="…"/>')`, line);
    }
    return fail(err.name === 'SyntaxError' ? 'syntax' : 'runtime', `${err.name}: ${err.message}`, line);
  };

  try {
    const host = keep(
      vm.newFunction('host', (opHandle, payloadHandle) => {
        const op = vm.getString(opHandle);
        const payload = vm.getString(payloadHandle);
        if (op === 'log') {
          const [level, message] = JSON.parse(payload) as ['info' | 'warning' | 'error', string];
          post({ type: 'log', jobId: job.jobId, level, message });
          return vm.undefined;
        }
        if (!HOST_OPS.has(op)) return { error: vm.newError(`unknown host operation ${op}`) };
        const t0 = performance.now();
        const reply = callHost(job.jobId, op as HostOp, payload, Math.max(0, limits.wallMs - (t0 - started)));
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
    const inputHandle = keep(vm.newString(JSON.stringify(job.input)));
    const setupCall = vm.callFunction(setup, vm.undefined, host, inputHandle);
    if (setupCall.error) return failure(setupCall.error, null);
    const api = keep(setupCall.value);
    const collect = keep(vm.getProp(api, 'collect'));

    const readCollected = (): { failure: string | null; vars: ScriptVars; instanceVars: ScriptVars; taskVars: ScriptVars; dropped: string[] } | undefined => {
      const r = vm.callFunction(collect, vm.undefined);
      if (r.error) {
        r.error.dispose();
        return undefined;
      }
      const text = vm.typeof(r.value) === 'string' ? vm.getString(r.value) : '';
      r.value.dispose();
      try {
        return JSON.parse(text) as { failure: string | null; vars: ScriptVars; instanceVars: ScriptVars; taskVars: ScriptVars; dropped: string[] };
      } catch {
        return undefined;
      }
    };

    const result = vm.evalCode(instrumentLoops(job.source), SCRIPT_FILENAME, { type: 'global' });
    if (result.error) return failure(result.error, tripped ? null : (readCollected()?.failure ?? null));
    result.value.dispose();
    // Promise callbacks the script queued (async functions) run now, under the same limits.
    const jobs = rt.executePendingJobs(-1);
    if (jobs.error) return failure(jobs.error, readCollected()?.failure ?? null);
    // Stopped while it was ending (it caught the error of an interrupted call): its results do not count.
    if (isCancelled(job.jobId)) return fail('cancelled', 'the script was interrupted: the workflow was stopped');
    const collected = readCollected();
    if (!collected) return fail('internal', 'the variables could not be read back from the script');
    if (collected.failure !== null) return fail('logError', `logError: ${collected.failure}`);
    return { ok: true, vars: collected.vars, instanceVars: collected.instanceVars, taskVars: collected.taskVars, dropped: collected.dropped, cpuMs: Math.round(cpuMs()) };
  } finally {
    for (const h of handles.reverse()) if (h.alive) h.dispose();
    vm.dispose();
    rt.dispose();
  }
}

async function main(): Promise<void> {
  const quickjs = await newQuickJSWASMModule(newVariant(RELEASE_SYNC, { wasmMemory }));
  const recycleAbove = INITIAL_BYTES + boot.memoryBytes / 2;
  port.on('message', (message: MainToWorker) => {
    if (message.type !== 'run') return;
    try {
      const outcome = runJob(quickjs, message.job);
      post({ type: 'done', jobId: message.job.jobId, outcome, ...(memoryBytes() > recycleAbove ? { recycle: true } : {}) });
    } catch (err) {
      // An error on the host side of the sandbox (e.g. the native stack exhausted inside WebAssembly): this
      // worker's QuickJS module may be unusable, so the main thread replaces the worker after this reply.
      const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      const kind: ScriptFailureKind = /call stack/i.test(text) ? 'stackLimit' : 'internal';
      const outcome: ScriptOutcome = {
        ok: false,
        kind,
        message: kind === 'stackLimit' ? 'the script recursed too deeply (stack limit reached) and was stopped' : `the sandbox failed: ${text}`,
        cpuMs: 0,
      };
      post({ type: 'done', jobId: message.job.jobId, outcome, recycle: true });
    }
  });
  post({ type: 'ready' });
}

void main();
