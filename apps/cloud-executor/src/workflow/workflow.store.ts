import type { LogLine, TaskStatus, Vars, WorkflowInstance, WorkflowSignal, WorkflowState, WorkflowTask } from '@cap/campaign-workflow';

/**
 * Where the engine keeps workflows, what it needs of it and nothing more: the PostgreSQL tables in production
 * (workflow-store.postgres.ts), an in-memory fake in unit tests (workflow-store.fake.ts).
 */

export interface InstancePatch {
  runId?: number;
  state?: WorkflowState;
  failed?: boolean;
  status?: string | null;
  definitionXml?: string;
  internalName?: string;
  variables?: Vars;
  taskCount?: number;
  startedAt?: Date;
  finishedAt?: Date | null;
}

export interface NewTask {
  activity: string;
  activityType: string;
  status: TaskStatus;
  vars: Vars;
  arrived?: string[];
  wakeAt?: Date;
}

/** A change to a task; a status that ends it (done, cancelled, failed) also records when it ended. */
export interface TaskPatch {
  status?: TaskStatus;
  vars?: Vars;
  arrived?: string[];
  wakeAt?: Date | null;
  taskVars?: Vars;
  leaseUntil?: Date | null;
}

/**
 * Data access inside one engine transaction, on a workflow whose instance row the transaction has locked: all
 * of it is committed together, or none of it (the function given to WorkflowStore.transaction threw).
 */
export interface WorkflowTransaction {
  /** Creates the instance of a workflow that never ran (state 0). */
  ensureInstance(workflowId: string, internalName: string): Promise<void>;
  /**
   * Locks the workflow for this transaction. `wait: false` (background loops) skips a workflow another
   * transaction holds: undefined then, as for a workflow that has no instance.
   */
  lockInstance(workflowId: string, options: { wait: boolean }): Promise<WorkflowInstance | undefined>;
  /** Applies a patch; `stateChanged` bumps the state version so the change is published. */
  updateInstance(workflowId: string, patch: InstancePatch, options: { stateChanged: boolean }): Promise<void>;
  /** Adds a task to the instance's run (and counts it on `instance.taskCount`); returns its id. */
  insertTask(instance: WorkflowInstance, task: NewTask): Promise<string>;
  updateTask(taskId: string, patch: TaskPatch): Promise<void>;
  /**
   * The oldest task of the run still to execute: pending, or a work activity whose claim has run out (the
   * engine running it died). `exceptTypes`: activity types to leave for later (work, outside a work drain).
   */
  nextPendingTask(instance: WorkflowInstance, now: Date, exceptTypes?: readonly string[]): Promise<WorkflowTask | undefined>;
  /** Claims a task for a work activity until `leaseUntil`; returns the claim's attempt number. */
  claimTask(taskId: string, leaseUntil: Date): Promise<number>;
  findTask(taskId: string): Promise<WorkflowTask | undefined>;
  /** Sets and removes instance variables, keeping the others (branches running side by side each change theirs). */
  mergeInstanceVars(workflowId: string, set: Vars, unset: string[]): Promise<Vars>;
  /** Drops the working tables of the workflow's runs (a run ends, or a new one starts); returns how many. */
  dropWorkTables(workflowId: string): Promise<number>;
  /** The oldest wait task of the run whose time has come. */
  nextDueWait(instance: WorkflowInstance, now: Date): Promise<WorkflowTask | undefined>;
  /** The external-signal task of an activity waiting in this run. */
  findWaitingSignalTask(instance: WorkflowInstance, activity: string): Promise<WorkflowTask | undefined>;
  /** The oldest and-join task of the activity still waiting for the transition `key`. */
  findOpenJoin(instance: WorkflowInstance, activity: string, key: string): Promise<WorkflowTask | undefined>;
  /** Active tasks of the run: those that can still make progress, and and-joins missing a transition. */
  countActive(instance: WorkflowInstance): Promise<{ busy: number; openJoins: string[] }>;
  /**
   * Ends every active task (of any run) of the workflow and ignores its queued signals: Stop, or a new run
   * replacing an old one. A running work activity keeps its lease: it says that an engine may still be
   * executing it until that engine has interrupted it (countInterrupting) or the lease runs out.
   */
  cancelActiveTasks(workflowId: string): Promise<number>;
  /** Cancelled work activities an engine may still be executing (their claim has not run out nor been released). */
  countInterrupting(workflowId: string, now: Date): Promise<number>;
  insertSignal(instance: WorkflowInstance, signal: Omit<WorkflowSignal, 'id'>, status: 'pending' | 'processed'): Promise<string>;
  nextPendingSignal(instance: WorkflowInstance): Promise<WorkflowSignal | undefined>;
  markSignal(signalId: string, status: 'processed' | 'ignored'): Promise<void>;
  /** Several lines of one activity (a script's logInfo… calls). */
  logMany(instance: WorkflowInstance, activity: string, lines: readonly { level: LogLine['level']; message: string }[]): Promise<void>;
  log(instance: WorkflowInstance, level: LogLine['level'], activity: string | null, message: string): Promise<void>;
}

export interface WorkflowReportData {
  instance: WorkflowInstance;
  tasks: (WorkflowTask & { createdAt: string; completedAt: string | null })[];
  log: LogLine[];
}

export interface WorkflowStore {
  /** Runs `fn` in one transaction. */
  transaction<T>(fn: (tx: WorkflowTransaction) => Promise<T>): Promise<T>;
  /** The workflow an id or internal name designates, if it ever ran here. */
  findInstance(ref: { id: string } | { internalName: string }): Promise<{ workflowId: string; internalName: string } | undefined>;
  /** Started workflows with work to do now: pending tasks or signals, waits whose time has come, claims run out. */
  findRunnable(now: Date, limit: number): Promise<string[]>;
  /** Extends the claim on a running work task; false when the claim is no longer this engine's. */
  renewLease(taskId: string, attempt: number, leaseUntil: Date): Promise<boolean>;
  /** Whether the claim on a work task is still this engine's (false once Stop cancelled it, or another took it over). */
  isClaimed(taskId: string, attempt: number): Promise<boolean>;
  /** Workflows whose last state change has not been published yet. */
  findUnpublished(limit: number): Promise<string[]>;
  /**
   * When findRunnable next has something to return without anything else happening: the earliest wait of a started
   * workflow, claim that runs out, or cancelled activity's claim a stopping workflow waits for; undefined if none.
   */
  nextDueAt(): Promise<Date | undefined>;
  readReport(workflowId: string, limit: number): Promise<WorkflowReportData | undefined>;
}
