import type { MessagePort } from 'node:worker_threads';

/**
 * Messages between the engine (main thread) and a script worker (workflow-script.thread.ts). Plain data only:
 * both sides import this file, and nothing else is shared with the worker.
 *
 *   main ──run──▶ worker            one script at a time per worker
 *   main ◀─log── worker            fire-and-forget (logInfo…), so lines survive a worker that must be killed
 *   main ◀─call─ worker (port)     a host call; the worker blocks (Atomics.wait) until main answers on the port
 *   main ◀─done─ worker            the outcome
 */

/** A workflow variable value: what instance.vars, task.vars and vars keep (dates are kept as ISO text). */
export type ScriptVarValue = string | number | boolean;
export type ScriptVars = Record<string, ScriptVarValue>;

export interface ScriptLimits {
  /** Time the script may spend executing, not counting waits on host calls (queries, writes…). */
  cpuMs: number;
  /** Time the script may take in all, waits on host calls included. */
  wallMs: number;
  /** QuickJS heap limit. */
  memoryBytes: number;
  /** QuickJS stack limit (deep recursion). */
  stackBytes: number;
  /** Most bytes of each scope of variables a script leaves (vars, instance.vars, task.vars), as UTF-8 JSON. */
  variablesMaxBytes: number;
}

/** WORKFLOW_VARIABLES_MAX_BYTES's default, for sandboxes created without it (benchmarks). */
export const DEFAULT_VARIABLES_MAX_BYTES = 256 * 1024;

export interface ScriptInput {
  vars: ScriptVars;
  instanceVars: ScriptVars;
  taskVars: ScriptVars;
  instance: { id: string; internalName: string };
  task: { id: string; activity: string };
}

export interface ScriptJob {
  jobId: number;
  source: string;
  input: ScriptInput;
  limits: ScriptLimits;
}

/** Operations the Campaign API inside the sandbox asks the engine for (workflow-script.host.ts). */
export type HostOp = 'query' | 'write' | 'subscription' | 'postEvent' | 'getOption';

export type ScriptFailureKind =
  /** The script does not parse. */
  | 'syntax'
  /** The script threw (its own error, or a host call's it did not catch). */
  | 'runtime'
  /** logError() was called. */
  | 'logError'
  | 'cpuLimit'
  | 'wallLimit'
  | 'memoryLimit'
  | 'stackLimit'
  /** The variables the script left (one scope of them) are over the size limit. */
  | 'variablesLimit'
  /** What crossed from the script to the engine (results, a log line, call arguments) was malformed. */
  | 'protocol'
  /** The sandbox itself failed (worker crashed, could not start). */
  | 'internal'
  /** The engine is shutting down: the script was not run to its end (the task runs again elsewhere). */
  | 'abandoned'
  /** The task was cancelled (Stop): the script was interrupted where it was. */
  | 'cancelled';

export type ScriptOutcome =
  | { ok: true; vars: ScriptVars; instanceVars: ScriptVars; taskVars: ScriptVars; dropped: string[]; cpuMs: number }
  | { ok: false; kind: ScriptFailureKind; message: string; line?: number; cpuMs: number };

export type MainToWorker = { type: 'run'; job: ScriptJob };

export type WorkerToMain =
  | { type: 'ready' }
  | { type: 'log'; jobId: number; level: 'info' | 'warning' | 'error'; message: string }
  /**
   * `recycle`: the worker's QuickJS module may be damaged; the main thread replaces the worker. `detail`: what
   * went wrong inside the sandbox, for the service log only (the outcome's message carries no internal text).
   */
  | { type: 'done'; jobId: number; outcome: ScriptOutcome; recycle?: boolean; detail?: string };

/** A host call, sent on the worker's dedicated port. */
export interface HostCall {
  seq: number;
  jobId: number;
  op: HostOp;
  /** The call's arguments: parsed by the worker from the JSON text the script's side sent (an object). */
  args: Record<string, unknown>;
}

/** The answer to a host call: JSON text of the result, or the error the script sees. */
export type HostReply = { seq: number; ok: true; result: string } | { seq: number; ok: false; code: string; message: string };

export interface WorkerBootData {
  /** The port host calls go through (its other end stays in the main thread). */
  hostPort: MessagePort;
  /** One Int32 the main thread increments (and notifies) after each host reply. */
  signal: SharedArrayBuffer;
  /** The largest per-script memory limit: sizes the worker's capped WebAssembly memory. */
  memoryBytes: number;
  /**
   * One Int32 the main thread sets to a job's id to interrupt that job (Stop): the interrupt handler stops the
   * script, and a host call it is waiting on returns at once (the main thread also bumps `signal`).
   */
  cancel: SharedArrayBuffer;
}

/** File names QuickJS puts in stack traces: the user's script and the Campaign API prelude. */
export const SCRIPT_FILENAME = 'wkf-script.js';
export const PRELUDE_FILENAME = 'campaign-api.js';
