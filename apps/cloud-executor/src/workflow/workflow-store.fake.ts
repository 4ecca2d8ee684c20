import { WORKFLOW_STATE, type Clock, type LogLine, type Vars, type WorkflowInstance, type WorkflowSignal, type WorkflowTask } from '@cap/campaign-workflow';
import type { WorkflowReportData, WorkflowStore, WorkflowTransaction } from './workflow.store';

/**
 * An in-memory WorkflowStore for the engine's unit tests, with the PostgreSQL store's rules
 * (workflow-store.postgres.ts): transactions run one at a time and are rolled back when they throw, ids grow,
 * "oldest" means the smallest id, times come from the injected clock. No working tables: the activities that
 * build them run against the real database only.
 */

interface TaskRow extends WorkflowTask {
  workflowId: string;
  runId: number;
  createdAt: Date;
  completedAt: Date | null;
}

interface SignalRow extends WorkflowSignal {
  workflowId: string;
  runId: number;
  status: 'pending' | 'processed' | 'ignored';
}

interface InstanceRow extends WorkflowInstance {
  updatedAt: Date;
}

interface Tables {
  instances: Map<string, InstanceRow>;
  tasks: TaskRow[];
  signals: SignalRow[];
  log: (LogLine & { workflowId: string })[];
  nextId: number;
}

const OVER = ['done', 'cancelled', 'failed'];

export interface FakeWorkflowStore extends WorkflowStore {
  /** The committed instance, as a state publisher reads it. */
  instance(workflowId: string): WorkflowInstance | undefined;
  /** Records that the instance's current state was published (what the publisher's UPDATE does). */
  markPublished(workflowId: string): void;
}

export function createFakeWorkflowStore(clock: Clock): FakeWorkflowStore {
  let db: Tables = { instances: new Map(), tasks: [], signals: [], log: [], nextId: 1 };
  let queue: Promise<unknown> = Promise.resolve();

  const id = () => String(db.nextId++);
  const copyInstance = ({ updatedAt: _u, ...i }: InstanceRow): WorkflowInstance => structuredClone(i);
  const copyTask = ({ workflowId: _w, runId: _r, createdAt: _c, completedAt: _d, ...t }: TaskRow): WorkflowTask => structuredClone(t);
  const oldest = <T extends { id: string }>(rows: T[]): T | undefined =>
    rows.reduce<T | undefined>((a, r) => (a && Number(a.id) < Number(r.id) ? a : r), undefined);
  const runTasks = (inst: WorkflowInstance) => db.tasks.filter((t) => t.workflowId === inst.workflowId && t.runId === inst.runId);
  const task = (taskId: string) => db.tasks.find((t) => t.id === taskId);
  const touch = (workflowId: string) => {
    const row = db.instances.get(workflowId);
    if (row) row.updatedAt = clock();
  };

  const tx: WorkflowTransaction = {
    async ensureInstance(workflowId, internalName) {
      if (db.instances.has(workflowId)) return;
      db.instances.set(workflowId, {
        workflowId,
        internalName,
        runId: 0,
        state: WORKFLOW_STATE.edition,
        failed: false,
        status: null,
        definitionXml: '',
        variables: {},
        taskCount: 0,
        stateVersion: '0',
        publishedVersion: '0',
        updatedAt: clock(),
      });
    },
    async lockInstance(workflowId) {
      const row = db.instances.get(workflowId);
      return row ? copyInstance(row) : undefined;
    },
    async updateInstance(workflowId, patch, options) {
      const row = db.instances.get(workflowId);
      if (!row) return;
      const { startedAt: _s, finishedAt: _f, ...fields } = patch;
      Object.assign(row, structuredClone(fields), { updatedAt: clock() });
      if (options.stateChanged) row.stateVersion = String(Number(row.stateVersion) + 1);
    },
    async insertTask(instance, t) {
      const taskId = id();
      db.tasks.push({
        id: taskId,
        workflowId: instance.workflowId,
        runId: instance.runId,
        activity: t.activity,
        activityType: t.activityType,
        status: t.status,
        vars: structuredClone(t.vars),
        arrived: t.arrived ?? [],
        wakeAt: t.wakeAt ?? null,
        attempt: 0,
        leaseUntil: null,
        taskVars: {},
        createdAt: clock(),
        completedAt: OVER.includes(t.status) ? clock() : null,
      });
      db.instances.get(instance.workflowId)!.taskCount++;
      instance.taskCount++;
      return taskId;
    },
    async updateTask(taskId, patch) {
      const row = task(taskId);
      if (!row) return;
      if (patch.status !== undefined) {
        row.status = patch.status;
        row.completedAt = OVER.includes(patch.status) ? clock() : null;
      }
      if (patch.vars !== undefined) row.vars = structuredClone(patch.vars);
      if (patch.arrived !== undefined) row.arrived = [...patch.arrived];
      if (patch.wakeAt !== undefined) row.wakeAt = patch.wakeAt;
      if (patch.taskVars !== undefined) row.taskVars = structuredClone(patch.taskVars);
      if (patch.leaseUntil !== undefined) row.leaseUntil = patch.leaseUntil;
    },
    async nextPendingTask(instance, now, exceptTypes = []) {
      const row = oldest(
        runTasks(instance).filter(
          (t) => (t.status === 'pending' || (t.status === 'running' && t.leaseUntil !== null && t.leaseUntil <= now)) && !exceptTypes.includes(t.activityType),
        ),
      );
      return row && copyTask(row);
    },
    async claimTask(taskId, leaseUntil) {
      const row = task(taskId)!;
      Object.assign(row, { status: 'running', leaseUntil, attempt: row.attempt + 1 });
      return row.attempt;
    },
    async findTask(taskId) {
      const row = task(taskId);
      return row && copyTask(row);
    },
    async mergeInstanceVars(workflowId, set, unset) {
      const row = db.instances.get(workflowId);
      if (!row) return {};
      const variables: Vars = { ...row.variables };
      for (const key of unset) delete variables[key];
      row.variables = { ...variables, ...structuredClone(set) };
      touch(workflowId);
      return { ...row.variables };
    },
    async dropWorkTables() {
      return 0;
    },
    async nextDueWait(instance, now) {
      const due = runTasks(instance).filter((t) => t.status === 'waiting' && t.wakeAt !== null && t.wakeAt <= now);
      due.sort((a, b) => a.wakeAt!.getTime() - b.wakeAt!.getTime() || Number(a.id) - Number(b.id));
      return due[0] && copyTask(due[0]);
    },
    async findWaitingSignalTask(instance, activity) {
      const row = oldest(runTasks(instance).filter((t) => t.activity === activity && t.status === 'waiting' && t.wakeAt === null));
      return row && copyTask(row);
    },
    async findOpenJoin(instance, activity, key) {
      const row = oldest(runTasks(instance).filter((t) => t.activity === activity && t.status === 'waiting' && !t.arrived.includes(key)));
      return row && copyTask(row);
    },
    async countActive(instance) {
      const active = runTasks(instance).filter((t) => t.status === 'pending' || t.status === 'running' || t.status === 'waiting');
      const openJoins = active.filter((t) => t.activityType === 'andjoin' && t.status === 'waiting').map((t) => t.activity);
      return { busy: active.length - openJoins.length, openJoins };
    },
    async cancelActiveTasks(workflowId) {
      const active = db.tasks.filter((t) => t.workflowId === workflowId && (t.status === 'pending' || t.status === 'running' || t.status === 'waiting'));
      for (const t of active) Object.assign(t, { status: 'cancelled', completedAt: clock(), leaseUntil: t.status === 'running' ? t.leaseUntil : null });
      for (const s of db.signals) if (s.workflowId === workflowId && s.status === 'pending') s.status = 'ignored';
      return active.length;
    },
    async countInterrupting(workflowId, now) {
      return db.tasks.filter((t) => t.workflowId === workflowId && t.status === 'cancelled' && t.leaseUntil !== null && t.leaseUntil > now).length;
    },
    async insertSignal(instance, signal, status) {
      const signalId = id();
      db.signals.push({ ...structuredClone(signal), id: signalId, workflowId: instance.workflowId, runId: instance.runId, status });
      return signalId;
    },
    async nextPendingSignal(instance) {
      const row = oldest(db.signals.filter((s) => s.workflowId === instance.workflowId && s.runId === instance.runId && s.status === 'pending'));
      return row && { id: row.id, activity: row.activity, transition: row.transition, vars: structuredClone(row.vars), complete: row.complete };
    },
    async markSignal(signalId, status) {
      const row = db.signals.find((s) => s.id === signalId);
      if (row) row.status = status;
    },
    async logMany(instance, activity, lines) {
      for (const line of lines) await tx.log(instance, line.level, activity, line.message);
    },
    async log(instance, level, activity, message) {
      db.log.push({ workflowId: instance.workflowId, at: clock().toISOString(), level, activity, message: message.slice(0, 4_000), runId: instance.runId });
    },
  };

  const started = (i: InstanceRow) => i.state === WORKFLOW_STATE.started;
  const tasksOf = (i: InstanceRow, anyRun = false) => db.tasks.filter((t) => t.workflowId === i.workflowId && (anyRun || t.runId === i.runId));

  return {
    transaction<T>(fn: (tx: WorkflowTransaction) => Promise<T>): Promise<T> {
      // One transaction at a time, each on its own snapshot to roll back to: what a row lock gives the engine.
      const run = queue.then(async () => {
        const before = structuredClone(db);
        try {
          return await fn(tx);
        } catch (err) {
          db = before;
          throw err;
        }
      });
      queue = run.catch(() => undefined);
      return run;
    },
    async findInstance(ref) {
      const rows = [...db.instances.values()].filter((i) => ('id' in ref ? i.workflowId === ref.id : i.internalName === ref.internalName));
      rows.sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime());
      return rows[0] && { workflowId: rows[0].workflowId, internalName: rows[0].internalName };
    },
    async findRunnable(now, limit) {
      const runnable = [...db.instances.values()].filter((i) => {
        if (i.state === WORKFLOW_STATE.stopping) return !tasksOf(i, true).some((t) => t.status === 'cancelled' && t.leaseUntil !== null && t.leaseUntil > now);
        if (!started(i)) return false;
        const work = tasksOf(i).some(
          (t) =>
            t.status === 'pending' ||
            (t.status === 'waiting' && t.wakeAt !== null && t.wakeAt <= now) ||
            (t.status === 'running' && t.leaseUntil !== null && t.leaseUntil <= now),
        );
        return work || db.signals.some((s) => s.workflowId === i.workflowId && s.runId === i.runId && s.status === 'pending');
      });
      runnable.sort((a, b) => a.updatedAt.getTime() - b.updatedAt.getTime());
      return runnable.slice(0, limit).map((i) => i.workflowId);
    },
    async renewLease(taskId, attempt, leaseUntil) {
      const row = task(taskId);
      if (!row || row.attempt !== attempt || row.status !== 'running') return false;
      row.leaseUntil = leaseUntil;
      return true;
    },
    async isClaimed(taskId, attempt) {
      const row = task(taskId);
      return row !== undefined && row.attempt === attempt && row.status === 'running';
    },
    async findUnpublished(limit) {
      return [...db.instances.values()]
        .filter((i) => Number(i.publishedVersion) < Number(i.stateVersion))
        .sort((a, b) => a.updatedAt.getTime() - b.updatedAt.getTime())
        .slice(0, limit)
        .map((i) => i.workflowId);
    },
    async nextDueAt() {
      const due: Date[] = [];
      for (const i of db.instances.values()) {
        if (started(i)) {
          for (const t of tasksOf(i)) {
            if (t.status === 'waiting' && t.wakeAt) due.push(t.wakeAt);
            if (t.status === 'running' && t.leaseUntil) due.push(t.leaseUntil);
          }
        }
        if (i.state === WORKFLOW_STATE.stopping) for (const t of tasksOf(i, true)) if (t.status === 'cancelled' && t.leaseUntil) due.push(t.leaseUntil);
      }
      return due.length > 0 ? new Date(Math.min(...due.map((d) => d.getTime()))) : undefined;
    },
    async readReport(workflowId, limit): Promise<WorkflowReportData | undefined> {
      const row = db.instances.get(workflowId);
      if (!row) return undefined;
      return {
        instance: copyInstance(row),
        tasks: tasksOf(row)
          .slice(0, limit)
          .map((t) => ({ ...copyTask(t), createdAt: t.createdAt.toISOString(), completedAt: t.completedAt?.toISOString() ?? null })),
        log: db.log
          .filter((l) => l.workflowId === workflowId)
          .slice(-limit)
          .map(({ workflowId: _w, ...l }) => l),
      };
    },
    instance(workflowId) {
      const row = db.instances.get(workflowId);
      return row && copyInstance(row);
    },
    markPublished(workflowId) {
      const row = db.instances.get(workflowId);
      if (row) row.publishedVersion = row.stateVersion;
    },
  };
}
