import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { ErrorCodes } from '@cap/platform-errors';
import type { Logger } from '@cap/platform-logger';
import {
  DEFAULT_VARIABLES_MAX_BYTES,
  type HostCall,
  type HostOp,
  type HostReply,
  type ScriptInput,
  type ScriptLimits,
  type ScriptOutcome,
  type WorkerBootData,
  type WorkerToMain,
} from './workflow-script.protocol';

/** What the engine answers a script's host calls with (workflow-script.host.ts). */
export interface ScriptHost {
  /** Runs a host call; resolves with a JSON-serialisable result, rejects with the error the script sees. */
  call(op: HostOp, args: unknown): Promise<unknown>;
  log(level: 'info' | 'warning' | 'error', message: string): void;
}

export interface ScriptSandbox {
  /**
   * Runs one script to its end, or until a limit stops it; never rejects (failures are outcomes). Aborting
   * `signal` interrupts that script only (outcome `cancelled`): a waiting one is dropped, a running one is
   * stopped by its interrupt handler, its pending host call returns at once and later ones are refused; a
   * worker that does not stop within `cancelGraceMs` is terminated and replaced.
   */
  run(request: { source: string; input: ScriptInput; limits?: Partial<ScriptLimits>; signal?: AbortSignal }, host: ScriptHost): Promise<ScriptOutcome>;
  /** Workers alive and scripts waiting for one (diagnostics). */
  stats(): { workers: number; busy: number; queued: number };
  /**
   * Refuses new scripts; waits up to `graceMs` for running ones, then ends the workers (scripts still running
   * are abandoned: their tasks run again on another engine).
   */
  close(graceMs?: number): Promise<void>;
}

export interface ScriptSandboxOptions {
  /** Worker threads (scripts run in parallel up to this number; more wait their turn). */
  workers: number;
  /** `variablesMaxBytes` defaults to DEFAULT_VARIABLES_MAX_BYTES. */
  limits: Omit<ScriptLimits, 'variablesMaxBytes'> & { variablesMaxBytes?: number };
  logger: Logger;
  /** Added to the wall limit before a worker that does not answer is terminated (a backstop: QuickJS stops first). */
  graceMs?: number;
  /** How long an interrupted script may take to stop before its worker is terminated (default 2 s). */
  cancelGraceMs?: number;
}

/**
 * The worker entry: the bundled file beside main.js in dist/, the TypeScript source (run through tsx) when the
 * engine itself runs from source (tests, `nx serve`).
 */
function workerEntry(): { file: string; execArgv: string[] } {
  const bundled = join(__dirname, 'workflow-script.thread.js');
  if (__filename.endsWith('.js') && existsSync(bundled)) return { file: bundled, execArgv: [] };
  return { file: join(__dirname, 'workflow-script.thread.ts'), execArgv: ['--require', require.resolve('tsx/cjs')] };
}

interface Job {
  id: number;
  source: string;
  input: ScriptInput;
  limits: ScriptLimits;
  host: ScriptHost;
  resolve(outcome: ScriptOutcome): void;
  /** Set once the script is interrupted: its host calls are refused from then on. */
  cancelled?: boolean;
}

interface PoolWorker {
  worker: Worker;
  hostPort: MessagePort;
  signal: Int32Array;
  cancel: Int32Array;
  ready: boolean;
  job?: Job;
  backstop?: NodeJS.Timeout;
  gone: boolean;
}

/**
 * A pool of script workers (workflow-script.thread.ts), started on first use. A script runs in a worker
 * thread so that the engine's event loop never runs script code: a runaway script costs one worker its CPU
 * limit, while the engine, its RPC and every other workflow go on. A worker that does not answer within the
 * wall limit plus `graceMs` is terminated and replaced; so is one whose QuickJS module may be damaged.
 */
export function createScriptSandbox(options: ScriptSandboxOptions): ScriptSandbox {
  const logger = options.logger.child({ module: 'workflow-sandbox' });
  const graceMs = options.graceMs ?? 5_000;
  const cancelGraceMs = options.cancelGraceMs ?? 2_000;
  const cancelledOutcome = (): ScriptOutcome => ({ ok: false, kind: 'cancelled', message: 'the script was interrupted: the workflow was stopped', cpuMs: 0 });
  const entry = workerEntry();
  const workers: PoolWorker[] = [];
  const queue: Job[] = [];
  let nextJobId = 1;
  let closing = false;
  let idle: (() => void) | undefined;

  const finish = (pw: PoolWorker, outcome: ScriptOutcome) => {
    const job = pw.job;
    if (!job) return;
    pw.job = undefined;
    if (pw.backstop) clearTimeout(pw.backstop);
    job.resolve(outcome);
  };

  const retire = (pw: PoolWorker, why: string) => {
    if (pw.gone) return;
    pw.gone = true;
    workers.splice(workers.indexOf(pw), 1);
    finish(pw, { ok: false, kind: 'internal', message: `the script's worker stopped (${why})`, cpuMs: 0 });
    if (!pw.ready) {
      // A worker that cannot even start would fail again: the waiting scripts fail instead of looping on spawns.
      for (const job of queue.splice(0)) job.resolve({ ok: false, kind: 'internal', message: `the script sandbox could not start (${why})`, cpuMs: 0 });
    }
    pw.hostPort.close();
    void pw.worker.terminate();
  };

  const dispatch = () => {
    while (queue.length > 0) {
      let pw = workers.find((w) => w.ready && !w.job && !w.gone);
      if (!pw) {
        if (workers.length < options.workers) {
          try {
            spawn();
          } catch (err) {
            // The OS refused a thread (process or memory limits). This runs inside worker and timer
            // callbacks, where a throw would end the service: with no worker left to wait for, the
            // waiting scripts fail instead; otherwise they wait for a busy worker.
            logger.error({ event: 'workflow.script.spawn_failed', err }, 'could not start a script worker');
            if (workers.length === 0) {
              for (const job of queue.splice(0)) job.resolve({ ok: false, kind: 'internal', message: 'the script sandbox could not start a worker', cpuMs: 0 });
            }
          }
        }
        return;
      }
      const job = queue.shift()!;
      pw.job = job;
      pw.backstop = setTimeout(() => {
        logger.warn({ event: 'workflow.script.worker_terminated', jobId: job.id }, 'a script worker did not answer in time: terminated');
        const worker = pw!;
        finish(worker, {
          ok: false,
          kind: 'wallLimit',
          message: `the script did not stop within its time limit of ${job.limits.wallMs} ms; its worker was terminated`,
          cpuMs: 0,
        });
        retire(worker, 'terminated after its time limit');
        dispatch();
      }, job.limits.wallMs + graceMs);
      pw.worker.postMessage({ type: 'run', job: { jobId: job.id, source: job.source, input: job.input, limits: job.limits } });
      pw = undefined;
    }
    if (closing && workers.every((w) => !w.job)) idle?.();
  };

  const spawn = () => {
    const { port1, port2 } = new MessageChannel();
    const signalBuffer = new SharedArrayBuffer(4);
    const cancelBuffer = new SharedArrayBuffer(4);
    const boot: WorkerBootData = { hostPort: port2, signal: signalBuffer, cancel: cancelBuffer, memoryBytes: options.limits.memoryBytes };
    let worker: Worker;
    try {
      worker = new Worker(entry.file, {
        workerData: boot,
        transferList: [port2],
        execArgv: entry.execArgv,
        // The worker's own JavaScript heap (QuickJS's heap is WebAssembly memory, limited per script).
        resourceLimits: { maxOldGenerationSizeMb: 128, stackSizeMb: 4 },
        stdout: false,
        stderr: false,
      });
    } catch (err) {
      // Open ports would keep the process alive at shutdown.
      port1.close();
      port2.close();
      throw err;
    }
    const pw: PoolWorker = { worker, hostPort: port1, signal: new Int32Array(signalBuffer), cancel: new Int32Array(cancelBuffer), ready: false, gone: false };
    workers.push(pw);

    port1.on('message', (call: HostCall) => {
      const job = pw.job;
      if (!job || job.id !== call.jobId) return; // a call of a script that is already over
      const answer = (reply: HostReply) => {
        if (pw.gone) return;
        pw.hostPort.postMessage(reply);
        Atomics.add(pw.signal, 0, 1);
        Atomics.notify(pw.signal, 0);
      };
      if (job.cancelled) {
        answer({ seq: call.seq, ok: false, code: ErrorCodes.WORKFLOW_SCRIPT_STOPPED, message: 'the workflow was stopped' });
        return;
      }
      // The worker parsed the arguments from the script's JSON text; each operation checks its own (workflow-script.host.ts).
      job.host.call(call.op, call.args).then(
        (result) => answer({ seq: call.seq, ok: true, result: JSON.stringify(result ?? null) }),
        (err: unknown) => {
          const code =
            typeof (err as { code?: unknown }).code === 'string' && /^[A-Z]{3}-\d{6}$/.test((err as { code: string }).code)
              ? (err as { code: string }).code
              : ErrorCodes.WORKFLOW_SANDBOX_FAILED;
          answer({ seq: call.seq, ok: false, code, message: err instanceof Error ? err.message : String(err) });
        },
      );
    });
    worker.on('message', (message: WorkerToMain) => {
      switch (message.type) {
        case 'ready':
          pw.ready = true;
          dispatch();
          return;
        case 'log':
          if (pw.job?.id === message.jobId) pw.job.host.log(message.level, message.message);
          return;
        case 'done':
          if (message.detail !== undefined)
            logger.error(
              { event: 'workflow.script.sandbox_error', jobId: message.jobId, detail: message.detail },
              'the script sandbox failed inside its worker',
            );
          if (pw.job?.id === message.jobId) finish(pw, message.outcome);
          if (message.recycle) retire(pw, 'recycled after a sandbox error');
          dispatch();
          return;
      }
    });
    worker.on('error', (err) => {
      logger.error({ event: 'workflow.script.worker_error', err }, 'script worker failed');
      retire(pw, err.message);
      dispatch();
    });
    worker.on('exit', (code) => {
      if (!pw.gone) {
        retire(pw, `exit code ${code}`);
        dispatch();
      }
    });
  };

  /** Interrupts one job: dropped from the queue, or stopped in its worker (terminated if it does not stop in time). */
  const cancelJob = (job: Job) => {
    if (job.cancelled) return;
    job.cancelled = true;
    const queued = queue.indexOf(job);
    if (queued >= 0) {
      queue.splice(queued, 1);
      job.resolve(cancelledOutcome());
      return;
    }
    const pw = workers.find((w) => w.job === job);
    if (!pw) return; // already over
    Atomics.store(pw.cancel, 0, job.id);
    // Wakes the worker if it waits on a host call: the call returns at once, then the interrupt handler stops the script.
    Atomics.add(pw.signal, 0, 1);
    Atomics.notify(pw.signal, 0);
    logger.info({ event: 'workflow.script.cancelled', jobId: job.id }, 'script interrupted');
    const backstop = setTimeout(() => {
      if (pw.job !== job) return;
      logger.warn({ event: 'workflow.script.worker_terminated', jobId: job.id }, 'an interrupted script did not stop in time: its worker was terminated');
      finish(pw, cancelledOutcome());
      retire(pw, 'terminated after an interrupted script did not stop');
      dispatch();
    }, cancelGraceMs);
    backstop.unref();
  };

  return {
    run(request, host) {
      if (closing) return Promise.resolve({ ok: false, kind: 'abandoned', message: 'the engine is shutting down', cpuMs: 0 });
      if (request.signal?.aborted) return Promise.resolve(cancelledOutcome());
      return new Promise<ScriptOutcome>((resolve) => {
        const limits: ScriptLimits = { variablesMaxBytes: DEFAULT_VARIABLES_MAX_BYTES, ...options.limits, ...request.limits };
        // A script may ask for less memory than the workers are sized for, not more.
        limits.memoryBytes = Math.min(limits.memoryBytes, options.limits.memoryBytes);
        const onAbort = () => cancelJob(job);
        const job: Job = {
          id: nextJobId++,
          source: request.source,
          input: request.input,
          limits,
          host,
          resolve: (outcome) => {
            request.signal?.removeEventListener('abort', onAbort);
            resolve(outcome);
          },
        };
        request.signal?.addEventListener('abort', onAbort, { once: true });
        queue.push(job);
        dispatch();
      });
    },
    stats() {
      return { workers: workers.length, busy: workers.filter((w) => w.job).length, queued: queue.length };
    },
    async close(closeGraceMs = 0) {
      closing = true;
      for (const job of queue.splice(0)) job.resolve({ ok: false, kind: 'abandoned', message: 'the engine is shutting down', cpuMs: 0 });
      if (workers.some((w) => w.job)) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([new Promise<void>((resolve) => (idle = resolve)), new Promise<void>((resolve) => (timer = setTimeout(resolve, closeGraceMs)))]);
        clearTimeout(timer);
      }
      await Promise.all(
        workers.splice(0).map(async (pw) => {
          finish(pw, { ok: false, kind: 'abandoned', message: 'the engine is shutting down', cpuMs: 0 });
          pw.gone = true;
          pw.hostPort.close();
          await pw.worker.terminate();
        }),
      );
    },
  };
}
