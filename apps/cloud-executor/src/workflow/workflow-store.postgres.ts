import { withTransaction, type Pool, type PoolClient } from '@cap/platform-postgres';
import type { LogLine, TaskStatus, Vars, WorkflowInstance, WorkflowSignal, WorkflowState, WorkflowTask } from '@cap/campaign-workflow';
import type { InstancePatch, NewTask, TaskPatch, WorkflowStore, WorkflowTransaction } from './workflow.store';

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
  attempt: number;
  lease_until: Date | null;
  task_vars: Vars | null;
}

const INSTANCE_COLUMNS = 'workflow_id, internal_name, run_id, state, failed, status, definition, variables, task_count, state_version, published_version';
const TASK_COLUMNS = 'id, activity, activity_type, status, vars, arrived, wake_at, attempt, lease_until, task_vars';

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
  return {
    id: r.id,
    activity: r.activity,
    activityType: r.activity_type,
    status: r.status,
    vars: r.vars ?? {},
    arrived: r.arrived ?? [],
    wakeAt: r.wake_at,
    attempt: r.attempt,
    leaseUntil: r.lease_until,
    taskVars: r.task_vars ?? {},
  };
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

/** WorkflowTransaction on PostgreSQL: one client inside BEGIN … COMMIT. */
class PgWorkflowTransaction implements WorkflowTransaction {
  constructor(private readonly client: PoolClient) {}

  /** Creates the instance row of a workflow that never ran (state 0). */
  async ensureInstance(workflowId: string, internalName: string): Promise<void> {
    await this.client.query('INSERT INTO cap_wkf_instance (workflow_id, internal_name) VALUES ($1, $2) ON CONFLICT (workflow_id) DO NOTHING', [
      workflowId,
      internalName,
    ]);
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

  async insertTask(instance: WorkflowInstance, task: NewTask): Promise<string> {
    const { rows } = await this.client.query<{ id: string }>(
      `INSERT INTO cap_wkf_task (workflow_id, run_id, activity, activity_type, status, vars, arrived, wake_at, completed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $5 IN ('done', 'cancelled', 'failed') THEN now() END) RETURNING id`,
      [instance.workflowId, instance.runId, task.activity, task.activityType, task.status, JSON.stringify(task.vars), task.arrived ?? [], task.wakeAt ?? null],
    );
    await this.client.query('UPDATE cap_wkf_instance SET task_count = task_count + 1 WHERE workflow_id = $1', [instance.workflowId]);
    instance.taskCount++;
    return rows[0]!.id;
  }

  async updateTask(taskId: string, patch: TaskPatch): Promise<void> {
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
    if (patch.taskVars !== undefined) {
      values.push(JSON.stringify(patch.taskVars));
      sets.push(`task_vars = $${values.length}`);
    }
    if (patch.leaseUntil !== undefined) {
      values.push(patch.leaseUntil);
      sets.push(`lease_until = $${values.length}`);
    }
    await this.client.query(`UPDATE cap_wkf_task SET ${sets.join(', ')} WHERE id = $1`, values);
  }

  /**
   * The oldest task of the run still to execute: pending, or a work activity whose claim has run out (the
   * engine running it died). `exceptTypes`: activity types to leave for later (work, outside a work drain).
   */
  async nextPendingTask(instance: WorkflowInstance, now: Date, exceptTypes: readonly string[] = []): Promise<WorkflowTask | undefined> {
    const { rows } = await this.client.query<TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM cap_wkf_task
       WHERE workflow_id = $1 AND run_id = $2 AND (status = 'pending' OR (status = 'running' AND lease_until <= $3)) AND NOT (activity_type = ANY ($4::text[]))
       ORDER BY id LIMIT 1`,
      [instance.workflowId, instance.runId, now, exceptTypes],
    );
    return rows[0] ? toTask(rows[0]) : undefined;
  }

  /** Claims a task for a work activity until `leaseUntil`; returns the claim's attempt number. */
  async claimTask(taskId: string, leaseUntil: Date): Promise<number> {
    const { rows } = await this.client.query<{ attempt: number }>(
      `UPDATE cap_wkf_task SET status = 'running', lease_until = $2, attempt = attempt + 1, updated_at = now() WHERE id = $1 RETURNING attempt`,
      [taskId, leaseUntil],
    );
    return rows[0]!.attempt;
  }

  async findTask(taskId: string): Promise<WorkflowTask | undefined> {
    const { rows } = await this.client.query<TaskRow>(`SELECT ${TASK_COLUMNS} FROM cap_wkf_task WHERE id = $1`, [taskId]);
    return rows[0] ? toTask(rows[0]) : undefined;
  }

  /** Sets and removes instance variables, keeping the others (branches running side by side each change theirs). */
  async mergeInstanceVars(workflowId: string, set: Vars, unset: string[]): Promise<Vars> {
    const { rows } = await this.client.query<{ variables: Vars }>(
      `UPDATE cap_wkf_instance SET variables = (variables - $3::text[]) || $2::jsonb, updated_at = now() WHERE workflow_id = $1 RETURNING variables`,
      [workflowId, JSON.stringify(set), unset],
    );
    return rows[0]?.variables ?? {};
  }

  /** Drops the working tables of the workflow's runs (a run ends, or a new one starts). */
  async dropWorkTables(workflowId: string): Promise<number> {
    const { rows } = await this.client.query<{ table_name: string }>('DELETE FROM cap_wkf_worktable WHERE workflow_id = $1 RETURNING table_name', [workflowId]);
    for (const { table_name } of rows) {
      // Names are made by the engine (wkf_wt_<task id>); checked again before they reach SQL text.
      if (!/^wkf_wt_\d+$/.test(table_name)) throw new Error(`unexpected working table name ${table_name}`);
      await this.client.query(`DROP TABLE IF EXISTS "${table_name}"`);
    }
    return rows.length;
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
      `SELECT activity, activity_type, status FROM cap_wkf_task WHERE workflow_id = $1 AND run_id = $2 AND status IN ('pending', 'running', 'waiting')`,
      [instance.workflowId, instance.runId],
    );
    const openJoins = rows.filter((r) => r.activity_type === 'andjoin' && r.status === 'waiting').map((r) => r.activity);
    return { busy: rows.length - openJoins.length, openJoins };
  }

  /**
   * Ends every active task (of any run) of the workflow: Stop, or a new run replacing an old one. A running
   * work activity keeps its lease: it says that an engine may still be executing it until that engine has
   * interrupted it (countInterrupting) or the lease runs out.
   */
  async cancelActiveTasks(workflowId: string): Promise<number> {
    const r = await this.client.query(
      `UPDATE cap_wkf_task SET status = 'cancelled', completed_at = now(), updated_at = now(), lease_until = CASE WHEN status = 'running' THEN lease_until END
        WHERE workflow_id = $1 AND status IN ('pending', 'running', 'waiting')`,
      [workflowId],
    );
    await this.client.query(`UPDATE cap_wkf_event SET status = 'ignored', processed_at = now() WHERE workflow_id = $1 AND status = 'pending'`, [workflowId]);
    return r.rowCount ?? 0;
  }

  /** Cancelled work activities an engine may still be executing (their claim has not run out nor been released). */
  async countInterrupting(workflowId: string, now: Date): Promise<number> {
    const { rows } = await this.client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM cap_wkf_task WHERE workflow_id = $1 AND status = 'cancelled' AND lease_until IS NOT NULL AND lease_until > $2`,
      [workflowId, now],
    );
    return rows[0]!.n;
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

  /** Several lines of one activity (a script's logInfo… calls), in one statement. */
  async logMany(instance: WorkflowInstance, activity: string, lines: readonly { level: LogLine['level']; message: string }[]): Promise<void> {
    if (lines.length === 0) return;
    await this.client.query(
      `INSERT INTO cap_wkf_log (workflow_id, run_id, level, activity, message)
       SELECT $1, $2, l.level, $3, l.message FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS l(level, message, n) ORDER BY l.n`,
      [instance.workflowId, instance.runId, activity, lines.map((l) => l.level), lines.map((l) => l.message.slice(0, 4_000))],
    );
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

/** The engine's tables in the cloud database (migrations/0002_workflow_engine.sql): the production WorkflowStore. */
export function createPostgresWorkflowStore(pool: Pool): WorkflowStore {
  return {
    transaction: (fn) => withTransaction(pool, (client) => fn(new PgWorkflowTransaction(client))),
    async findInstance(ref) {
      const { rows } =
        'id' in ref
          ? await pool.query<{ workflow_id: string; internal_name: string }>('SELECT workflow_id, internal_name FROM cap_wkf_instance WHERE workflow_id = $1', [
              ref.id,
            ])
          : await pool.query<{ workflow_id: string; internal_name: string }>(
              'SELECT workflow_id, internal_name FROM cap_wkf_instance WHERE internal_name = $1 ORDER BY updated_at DESC LIMIT 1',
              [ref.internalName],
            );
      return rows[0] ? { workflowId: rows[0].workflow_id, internalName: rows[0].internal_name } : undefined;
    },
    async findRunnable(now, limit) {
      const { rows } = await pool.query<{ workflow_id: string }>(
        `SELECT i.workflow_id FROM cap_wkf_instance i
         WHERE (i.state = 11 AND (
           EXISTS (SELECT 1 FROM cap_wkf_task t WHERE t.workflow_id = i.workflow_id AND t.run_id = i.run_id
                   AND (t.status = 'pending' OR (t.status = 'waiting' AND t.wake_at IS NOT NULL AND t.wake_at <= $1) OR (t.status = 'running' AND t.lease_until <= $1)))
           OR EXISTS (SELECT 1 FROM cap_wkf_event e WHERE e.workflow_id = i.workflow_id AND e.run_id = i.run_id AND e.status = 'pending')))
         -- Stop requested: finished once no cancelled activity may still be running (its engine died: the lease ran out).
         OR (i.state = 15 AND NOT EXISTS (SELECT 1 FROM cap_wkf_task t WHERE t.workflow_id = i.workflow_id AND t.status = 'cancelled' AND t.lease_until > $1))
         ORDER BY i.updated_at LIMIT $2`,
        [now, limit],
      );
      return rows.map((r) => r.workflow_id);
    },
    async renewLease(taskId, attempt, leaseUntil) {
      const r = await pool.query(`UPDATE cap_wkf_task SET lease_until = $3 WHERE id = $1 AND attempt = $2 AND status = 'running'`, [
        taskId,
        attempt,
        leaseUntil,
      ]);
      return (r.rowCount ?? 0) > 0;
    },
    async isClaimed(taskId, attempt) {
      const r = await pool.query(`SELECT 1 FROM cap_wkf_task WHERE id = $1 AND attempt = $2 AND status = 'running'`, [taskId, attempt]);
      return (r.rowCount ?? 0) > 0;
    },
    async findUnpublished(limit) {
      const { rows } = await pool.query<{ workflow_id: string }>(
        'SELECT workflow_id FROM cap_wkf_instance WHERE published_version < state_version ORDER BY updated_at LIMIT $1',
        [limit],
      );
      return rows.map((r) => r.workflow_id);
    },
    async nextDueAt() {
      const { rows } = await pool.query<{ due: Date | null }>(
        `SELECT min(due) AS due FROM (
           SELECT t.wake_at AS due FROM cap_wkf_task t JOIN cap_wkf_instance i ON i.workflow_id = t.workflow_id AND i.run_id = t.run_id
            WHERE i.state = 11 AND t.status = 'waiting' AND t.wake_at IS NOT NULL
           UNION ALL
           SELECT t.lease_until FROM cap_wkf_task t JOIN cap_wkf_instance i ON i.workflow_id = t.workflow_id AND i.run_id = t.run_id
            WHERE i.state = 11 AND t.status = 'running' AND t.lease_until IS NOT NULL
           UNION ALL
           SELECT t.lease_until FROM cap_wkf_task t JOIN cap_wkf_instance i ON i.workflow_id = t.workflow_id
            WHERE i.state = 15 AND t.status = 'cancelled' AND t.lease_until IS NOT NULL
         ) d`,
      );
      return rows[0]?.due ?? undefined;
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
