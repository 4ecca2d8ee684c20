import { withTransaction, type Pool, type PoolClient } from '@cap/platform-postgres';
import type { Vars, WorkflowState } from './workflow-step.planner';

/** The durable state of one workflow (cap_wkf_instance). */
export interface WorkflowInstance {
  workflowId: string;
  internalName: string;
  runId: number;
  state: WorkflowState;
  failed: boolean;
  status: string | null;
  definitionXml: string;
  variables: Vars;
  taskCount: number;
  stateVersion: string;
  publishedVersion: string;
}

export type TaskStatus = 'pending' | 'waiting' | 'done' | 'cancelled' | 'failed';

export interface WorkflowTask {
  id: string;
  activity: string;
  activityType: string;
  status: TaskStatus;
  vars: Vars;
  arrived: string[];
  wakeAt: Date | null;
}

export interface WorkflowSignal {
  id: string;
  activity: string;
  transition: string;
  vars: Vars;
  complete: boolean;
}

export interface LogLine {
  at: string;
  level: 'info' | 'warning' | 'error';
  activity: string | null;
  message: string;
  runId: number;
}

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

interface InstanceRow {
  workflow_id: string;
  internal_name: string;
  run_id: number;
  state: number;
  failed: boolean;
  status: string | null;
  definition: string;
  variables: Vars;
  task_count: number;
  state_version: string;
  published_version: string;
}

interface TaskRow {
  id: string;
  activity: string;
  activity_type: string;
  status: TaskStatus;
  vars: Vars;
  arrived: string[];
  wake_at: Date | null;
}

const INSTANCE_COLUMNS = 'workflow_id, internal_name, run_id, state, failed, status, definition, variables, task_count, state_version, published_version';
const TASK_COLUMNS = 'id, activity, activity_type, status, vars, arrived, wake_at';

function toInstance(r: InstanceRow): WorkflowInstance {
  return {
    workflowId: r.workflow_id,
    internalName: r.internal_name,
    runId: r.run_id,
    state: r.state as WorkflowState,
    failed: r.failed,
    status: r.status,
    definitionXml: r.definition,
    variables: r.variables ?? {},
    taskCount: r.task_count,
    stateVersion: r.state_version,
    publishedVersion: r.published_version,
  };
}

function toTask(r: TaskRow): WorkflowTask {
  return { id: r.id, activity: r.activity, activityType: r.activity_type, status: r.status, vars: r.vars ?? {}, arrived: r.arrived ?? [], wakeAt: r.wake_at };
}

const PATCH_COLUMNS: Record<keyof InstancePatch, string> = {
  runId: 'run_id',
  state: 'state',
  failed: 'failed',
  status: 'status',
  definitionXml: 'definition',
  internalName: 'internal_name',
  variables: 'variables',
  taskCount: 'task_count',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
};

/** Data access inside one engine transaction, on a workflow whose instance row the transaction has locked. */
export class WorkflowTransaction {
  constructor(private readonly client: PoolClient) {}

  /** Creates the instance row of a workflow that never ran (state 0). */
  async ensureInstance(workflowId: string, internalName: string): Promise<void> {
    await this.client.query('INSERT INTO cap_wkf_instance (workflow_id, internal_name) VALUES ($1, $2) ON CONFLICT (workflow_id) DO NOTHING', [workflowId, internalName]);
  }

  /**
   * Locks the workflow for this transaction. `wait: false` (background loops) skips a workflow another
   * transaction holds: undefined then, as for a workflow that has no instance row.
   */
  async lockInstance(workflowId: string, options: { wait: boolean }): Promise<WorkflowInstance | undefined> {
    const { rows } = await this.client.query<InstanceRow>(
      `SELECT ${INSTANCE_COLUMNS} FROM cap_wkf_instance WHERE workflow_id = $1 FOR UPDATE${options.wait ? '' : ' SKIP LOCKED'}`,
      [workflowId],
    );
    return rows[0] ? toInstance(rows[0]) : undefined;
  }

  /** Applies a patch; `stateChanged` bumps state_version so the change is published. */
  async updateInstance(workflowId: string, patch: InstancePatch, options: { stateChanged: boolean }): Promise<void> {
    const sets: string[] = ['updated_at = now()'];
    const values: unknown[] = [workflowId];
    for (const [key, column] of Object.entries(PATCH_COLUMNS) as [keyof InstancePatch, string][]) {
      if (patch[key] === undefined) continue;
      values.push(key === 'variables' ? JSON.stringify(patch[key]) : patch[key]);
      sets.push(`${column} = $${values.length}`);
    }
    if (options.stateChanged) sets.push('state_version = state_version + 1');
    await this.client.query(`UPDATE cap_wkf_instance SET ${sets.join(', ')} WHERE workflow_id = $1`, values);
  }

  async insertTask(
    instance: WorkflowInstance,
    task: { activity: string; activityType: string; status: TaskStatus; vars: Vars; arrived?: string[]; wakeAt?: Date },
  ): Promise<string> {
    const { rows } = await this.client.query<{ id: string }>(
      `INSERT INTO cap_wkf_task (workflow_id, run_id, activity, activity_type, status, vars, arrived, wake_at, completed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $5 IN ('done', 'cancelled', 'failed') THEN now() END) RETURNING id`,
      [instance.workflowId, instance.runId, task.activity, task.activityType, task.status, JSON.stringify(task.vars), task.arrived ?? [], task.wakeAt ?? null],
    );
    await this.client.query('UPDATE cap_wkf_instance SET task_count = task_count + 1 WHERE workflow_id = $1', [instance.workflowId]);
    instance.taskCount++;
    return rows[0]!.id;
  }

  async updateTask(taskId: string, patch: { status?: TaskStatus; vars?: Vars; arrived?: string[]; wakeAt?: Date | null }): Promise<void> {
    const sets: string[] = ['updated_at = now()'];
    const values: unknown[] = [taskId];
    if (patch.status !== undefined) {
      values.push(patch.status);
      sets.push(`status = $${values.length}`, `completed_at = CASE WHEN $${values.length} IN ('done', 'cancelled', 'failed') THEN now() END`);
    }
    if (patch.vars !== undefined) {
      values.push(JSON.stringify(patch.vars));
      sets.push(`vars = $${values.length}`);
    }
    if (patch.arrived !== undefined) {
      values.push(patch.arrived);
      sets.push(`arrived = $${values.length}`);
    }
    if (patch.wakeAt !== undefined) {
      values.push(patch.wakeAt);
      sets.push(`wake_at = $${values.length}`);
    }
    await this.client.query(`UPDATE cap_wkf_task SET ${sets.join(', ')} WHERE id = $1`, values);
  }

  /** The oldest task of the run still to execute. */
  async nextPendingTask(instance: WorkflowInstance): Promise<WorkflowTask | undefined> {
    const { rows } = await this.client.query<TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM cap_wkf_task WHERE workflow_id = $1 AND run_id = $2 AND status = 'pending' ORDER BY id LIMIT 1`,
      [instance.workflowId, instance.runId],
    );
    return rows[0] ? toTask(rows[0]) : undefined;
  }

  /** The oldest wait task of the run whose time has come. */
  async nextDueWait(instance: WorkflowInstance, now: Date): Promise<WorkflowTask | undefined> {
    const { rows } = await this.client.query<TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM cap_wkf_task
       WHERE workflow_id = $1 AND run_id = $2 AND status = 'waiting' AND wake_at IS NOT NULL AND wake_at <= $3 ORDER BY wake_at, id LIMIT 1`,
      [instance.workflowId, instance.runId, now],
    );
    return rows[0] ? toTask(rows[0]) : undefined;
  }

  /** The external-signal task of an activity waiting in this run. */
  async findWaitingSignalTask(instance: WorkflowInstance, activity: string): Promise<WorkflowTask | undefined> {
    const { rows } = await this.client.query<TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM cap_wkf_task
       WHERE workflow_id = $1 AND run_id = $2 AND activity = $3 AND status = 'waiting' AND wake_at IS NULL ORDER BY id LIMIT 1`,
      [instance.workflowId, instance.runId, activity],
    );
    return rows[0] ? toTask(rows[0]) : undefined;
  }

  /** The oldest and-join task of the activity still waiting for the transition `key`. */
  async findOpenJoin(instance: WorkflowInstance, activity: string, key: string): Promise<WorkflowTask | undefined> {
    const { rows } = await this.client.query<TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM cap_wkf_task
       WHERE workflow_id = $1 AND run_id = $2 AND activity = $3 AND status = 'waiting' AND NOT ($4 = ANY (arrived)) ORDER BY id LIMIT 1`,
      [instance.workflowId, instance.runId, activity, key],
    );
    return rows[0] ? toTask(rows[0]) : undefined;
  }

  /** Active tasks of the run: those that can still make progress, and and-joins missing a transition. */
  async countActive(instance: WorkflowInstance): Promise<{ busy: number; openJoins: string[] }> {
    const { rows } = await this.client.query<{ activity: string; activity_type: string; status: TaskStatus }>(
      `SELECT activity, activity_type, status FROM cap_wkf_task WHERE workflow_id = $1 AND run_id = $2 AND status IN ('pending', 'waiting')`,
      [instance.workflowId, instance.runId],
    );
    const openJoins = rows.filter((r) => r.activity_type === 'andjoin' && r.status === 'waiting').map((r) => r.activity);
    return { busy: rows.length - openJoins.length, openJoins };
  }

  /** Ends every active task (of any run) of the workflow: Stop, or a new run replacing an old one. */
  async cancelActiveTasks(workflowId: string): Promise<number> {
    const r = await this.client.query(
      `UPDATE cap_wkf_task SET status = 'cancelled', completed_at = now(), updated_at = now() WHERE workflow_id = $1 AND status IN ('pending', 'waiting')`,
      [workflowId],
    );
    await this.client.query(`UPDATE cap_wkf_event SET status = 'ignored', processed_at = now() WHERE workflow_id = $1 AND status = 'pending'`, [workflowId]);
    return r.rowCount ?? 0;
  }

  async insertSignal(instance: WorkflowInstance, signal: Omit<WorkflowSignal, 'id'>, status: 'pending' | 'processed'): Promise<string> {
    const { rows } = await this.client.query<{ id: string }>(
      `INSERT INTO cap_wkf_event (workflow_id, run_id, activity, transition, vars, complete, status, processed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $7 = 'processed' THEN now() END) RETURNING id`,
      [instance.workflowId, instance.runId, signal.activity, signal.transition, JSON.stringify(signal.vars), signal.complete, status],
    );
    return rows[0]!.id;
  }

  async nextPendingSignal(instance: WorkflowInstance): Promise<WorkflowSignal | undefined> {
    const { rows } = await this.client.query<{ id: string; activity: string; transition: string; vars: Vars; complete: boolean }>(
      `SELECT id, activity, transition, vars, complete FROM cap_wkf_event WHERE workflow_id = $1 AND run_id = $2 AND status = 'pending' ORDER BY id LIMIT 1`,
      [instance.workflowId, instance.runId],
    );
    const r = rows[0];
    return r ? { id: r.id, activity: r.activity, transition: r.transition, vars: r.vars ?? {}, complete: r.complete } : undefined;
  }

  async markSignal(signalId: string, status: 'processed' | 'ignored'): Promise<void> {
    await this.client.query('UPDATE cap_wkf_event SET status = $2, processed_at = now() WHERE id = $1', [signalId, status]);
  }

  async log(instance: WorkflowInstance, level: LogLine['level'], activity: string | null, message: string): Promise<void> {
    await this.client.query('INSERT INTO cap_wkf_log (workflow_id, run_id, level, activity, message) VALUES ($1, $2, $3, $4, $5)', [
      instance.workflowId,
      instance.runId,
      level,
      activity,
      message.slice(0, 4_000),
    ]);
  }
}

export interface WorkflowReportData {
  instance: WorkflowInstance;
  tasks: (WorkflowTask & { createdAt: string; completedAt: string | null })[];
  log: LogLine[];
}

/** The engine's tables (migrations/0002_workflow_engine.sql). */
export interface WorkflowStore {
  /** Runs `fn` in one transaction. */
  transaction<T>(fn: (tx: WorkflowTransaction) => Promise<T>): Promise<T>;
  /** The workflow an id or internal name designates, if it ever ran here. */
  findInstance(ref: { id: string } | { internalName: string }): Promise<{ workflowId: string; internalName: string } | undefined>;
  /** Started workflows with work to do now: pending tasks or signals, waits whose time has come. */
  findRunnable(now: Date, limit: number): Promise<string[]>;
  /** Workflows whose last state change has not been published yet. */
  findUnpublished(limit: number): Promise<string[]>;
  readReport(workflowId: string, limit: number): Promise<WorkflowReportData | undefined>;
}

export function createWorkflowStore(pool: Pool): WorkflowStore {
  return {
    transaction: (fn) => withTransaction(pool, (client) => fn(new WorkflowTransaction(client))),
    async findInstance(ref) {
      const { rows } =
        'id' in ref
          ? await pool.query<{ workflow_id: string; internal_name: string }>('SELECT workflow_id, internal_name FROM cap_wkf_instance WHERE workflow_id = $1', [ref.id])
          : await pool.query<{ workflow_id: string; internal_name: string }>(
              'SELECT workflow_id, internal_name FROM cap_wkf_instance WHERE internal_name = $1 ORDER BY updated_at DESC LIMIT 1',
              [ref.internalName],
            );
      return rows[0] ? { workflowId: rows[0].workflow_id, internalName: rows[0].internal_name } : undefined;
    },
    async findRunnable(now, limit) {
      const { rows } = await pool.query<{ workflow_id: string }>(
        `SELECT i.workflow_id FROM cap_wkf_instance i
         WHERE i.state = 11 AND (
           EXISTS (SELECT 1 FROM cap_wkf_task t WHERE t.workflow_id = i.workflow_id AND t.run_id = i.run_id
                   AND (t.status = 'pending' OR (t.status = 'waiting' AND t.wake_at IS NOT NULL AND t.wake_at <= $1)))
           OR EXISTS (SELECT 1 FROM cap_wkf_event e WHERE e.workflow_id = i.workflow_id AND e.run_id = i.run_id AND e.status = 'pending'))
         ORDER BY i.updated_at LIMIT $2`,
        [now, limit],
      );
      return rows.map((r) => r.workflow_id);
    },
    async findUnpublished(limit) {
      const { rows } = await pool.query<{ workflow_id: string }>('SELECT workflow_id FROM cap_wkf_instance WHERE published_version < state_version ORDER BY updated_at LIMIT $1', [limit]);
      return rows.map((r) => r.workflow_id);
    },
    async readReport(workflowId, limit) {
      const inst = await pool.query<InstanceRow>(`SELECT ${INSTANCE_COLUMNS} FROM cap_wkf_instance WHERE workflow_id = $1`, [workflowId]);
      if (!inst.rows[0]) return undefined;
      const instance = toInstance(inst.rows[0]);
      const tasks = await pool.query<TaskRow & { created_at: Date; completed_at: Date | null }>(
        `SELECT ${TASK_COLUMNS}, created_at, completed_at FROM cap_wkf_task WHERE workflow_id = $1 AND run_id = $2 ORDER BY id LIMIT $3`,
        [workflowId, instance.runId, limit],
      );
      const log = await pool.query<{ logged_at: Date; level: LogLine['level']; activity: string | null; message: string; run_id: number }>(
        'SELECT logged_at, level, activity, message, run_id FROM (SELECT * FROM cap_wkf_log WHERE workflow_id = $1 ORDER BY id DESC LIMIT $2) l ORDER BY id',
        [workflowId, limit],
      );
      return {
        instance,
        tasks: tasks.rows.map((r) => ({ ...toTask(r), createdAt: r.created_at.toISOString(), completedAt: r.completed_at?.toISOString() ?? null })),
        log: log.rows.map((r) => ({ at: r.logged_at.toISOString(), level: r.level, activity: r.activity, message: r.message, runId: r.run_id })),
      };
    },
  };
}
