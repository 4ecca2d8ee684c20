// Types of infra/scripts/supervisor.mjs, for the TypeScript tests that import it.
import type { ChildProcess } from 'node:child_process';

export interface SupervisorPolicy {
  /** Wait before the first restart of a row of deaths; doubled for each further death in the row. */
  initialDelayMs: number;
  /** The longest wait between restarts. */
  maxDelayMs: number;
  /** A run that is ready and stays up this long ends the row: the next death waits initialDelayMs again. */
  resetAfterMs: number;
  /** After this many deaths in a row, one line says the service keeps failing (restarts go on). */
  keepsFailingAfter: number;
  /** Interval between readiness probes of a run that is not ready yet. */
  readyPollMs: number;
  /** A restarted run not ready after this long is reported once (the probing goes on). */
  readyTimeoutMs: number;
  /** stop(): SIGTERM, then SIGKILL for a child still running after this long. */
  stopTimeoutMs: number;
}

export type SupervisorLineKind = 'exited' | 'failing' | 'waiting' | 'ready';

export interface SupervisorOptions<S extends { name: string }> {
  services: readonly S[];
  /** Spawns one process of the service; may throw (counted as a failed start). */
  launch(service: S): ChildProcess;
  /** One readiness probe of the service's current process. */
  isReady(service: S): Promise<boolean>;
  /** One line of output, without a line break. */
  log(line: string, kind: SupervisorLineKind): void;
  policy?: Partial<SupervisorPolicy>;
}

export interface SupervisedStatus {
  /** The running process, if any. */
  pid: number | undefined;
  ready: boolean;
  /** Which restart of the current row the current (or last) process is: 0 for the first start. */
  attempt: number;
  failuresInARow: number;
  restarts: number;
  restartPending: boolean;
}

export interface Supervisor {
  /** Launches every service. */
  start(): void;
  /** True once the service's current process is ready; false at the timeout or on stop(). */
  waitUntilReady(name: string, timeoutMs: number): Promise<boolean>;
  status(name: string): SupervisedStatus;
  /** Cancels pending restarts, sends SIGTERM (SIGKILL after stopTimeoutMs) and resolves when all have exited. */
  stop(): Promise<void>;
}

export declare const DEFAULT_POLICY: Readonly<SupervisorPolicy>;
export declare function restartDelayMs(failures: number, policy?: SupervisorPolicy): number;
export declare function describeExit(code: number | null, signal: NodeJS.Signals | null): string;
export declare function formatDuration(ms: number): string;
export declare function createSupervisor<S extends { name: string }>(options: SupervisorOptions<S>): Supervisor;
