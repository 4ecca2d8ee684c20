import { ErrorCatalogue, isAppError } from '@cap/platform-errors';
import { compileQueryDef, isQueryError } from '@cap/campaign-query';
import type { Schema } from '@cap/campaign-schema';
import { isDeliveryError, RECIPIENT_SCHEMA } from '@cap/campaign-delivery';
import { element, parseXml, serializeXml, type XmlElement } from '@cap/campaign-xml';
import type { DeliveryActionTarget } from '../delivery/delivery-action.creator';
import type { WorkflowDeliveries } from './workflow-delivery.activity';
import { classifyPgError, withTransaction, type Pool } from '@cap/platform-postgres';
import type { WorkflowDataAccess } from './workflow-data.access';
import type { ScriptLogLine, ScriptPostEvent } from './workflow-script.host';
import { createScriptHost } from './workflow-script.host';
import type { ScriptFailureKind } from './workflow-script.protocol';
import type { ScriptSandbox } from './workflow-script.sandbox';
import {
  ACTIVITY_CODES,
  bindWhereVariables,
  formatVariableRef,
  systemClock,
  variableLookup,
  type Activity,
  type Clock,
  type Vars,
  type WorkflowTask,
} from '@cap/campaign-workflow';

/** A work activity claimed by the engine, with what it runs on. */
export interface WorkItem {
  workflowId: string;
  internalName: string;
  runId: number;
  task: WorkflowTask;
  attempt: number;
  activity: Activity;
  /** The instance variables when the task was claimed. */
  instanceVars: Vars;
}

export type WorkOutcome =
  /** Done: `vars` go out on the transitions; instance variables changed as given; a line for the log. */
  | { kind: 'done'; vars: Vars; instanceVars?: { set: Vars; unset: string[] }; taskVars?: Vars; logs: ScriptLogLine[]; note: string }
  | { kind: 'failed'; code: string; message: string; line?: number; logs: ScriptLogLine[] }
  /** Not run to its end because the engine is stopping: the claim is released, the task runs again. */
  | { kind: 'abandoned'; logs: ScriptLogLine[] }
  /** Interrupted because its task was cancelled (Stop): nothing to record but the log. */
  | { kind: 'cancelled'; logs: ScriptLogLine[]; message: string; line?: number }
  /** A delivery activity created (or found) its delivery action: the task now waits for the delivery to end. */
  | { kind: 'waitDelivery'; deliveryId: string; deliveryName: string; logs: ScriptLogLine[]; note: string };

export interface ActivityRunner {
  /** Runs a claimed activity; aborting `signal` (Stop) interrupts it. */
  run(work: WorkItem, options?: { signal?: AbortSignal }): Promise<WorkOutcome>;
}

export interface ActivityLimits {
  /** Most records a query activity puts in its working table. */
  queryMaxRows: number;
  /** Time a query or update activity may take (statement timeout; the update's batches stop after it). */
  activityTimeoutMs: number;
  /** Log lines a script may write; more are counted, not stored. */
  maxLogLines: number;
}

const SCRIPT_CODES: Record<ScriptFailureKind, string> = {
  syntax: ACTIVITY_CODES.scriptError,
  runtime: ACTIVITY_CODES.scriptError,
  cpuLimit: ACTIVITY_CODES.cpuLimit,
  memoryLimit: ACTIVITY_CODES.memoryLimit,
  stackLimit: ACTIVITY_CODES.memoryLimit,
  wallLimit: ACTIVITY_CODES.timeLimit,
  logError: ACTIVITY_CODES.logError,
  variablesLimit: ACTIVITY_CODES.variablesLimit,
  protocol: ACTIVITY_CODES.malformed,
  internal: ACTIVITY_CODES.sandbox,
  abandoned: ACTIVITY_CODES.sandbox,
  cancelled: ACTIVITY_CODES.stopped,
};

/** Working tables are named by the engine: `wkf_wt_<task id>`; nothing else is read or dropped. */
export const WORK_TABLE = /^wkf_wt_\d+$/;
const UPDATE_BATCH = 500;

/** `$(vars/@x)` and `$(instance/vars/@x)` in an update activity's values. */
export function fillTemplate(text: string, vars: Vars, instanceVars: Vars): string {
  return text.replace(/\$\((instance\/)?vars\/@([A-Za-z_][A-Za-z0-9_]*)\)/g, (_m, inst: string | undefined, name: string) => {
    const source = inst ? instanceVars : vars;
    return Object.hasOwn(source, name) ? String(source[name]) : '';
  });
}

function diffVars(before: Vars, after: Vars): { set: Vars; unset: string[] } {
  const set: Vars = {};
  for (const [k, v] of Object.entries(after)) if (before[k] !== v) set[k] = v;
  return { set, unset: Object.keys(before).filter((k) => !Object.hasOwn(after, k)) };
}

function failure(code: string, message: string): WorkOutcome {
  return { kind: 'failed', code, message, logs: [] };
}

/**
 * A data error of a query or update activity (a Campaign or PostgreSQL error), as the workflow log shows it: a
 * statement PostgreSQL refused for its data, or one that ran past the activity's statement timeout, fails the
 * activity (DATABASE_REFUSED); any other database error is the engine's to retry.
 */
function dataFailure(err: unknown): WorkOutcome {
  if (isAppError(err) || isQueryError(err)) return failure(err.code, err.message);
  const verdict = classifyPgError(err);
  if (verdict.requestCaused || verdict.statementTimeout) return failure(ErrorCatalogue.DATABASE_REFUSED.code, `PostgreSQL error: ${(err as Error).message}`);
  throw err;
}

/**
 * Runs the activities that do work: js (in the sandbox, with the Campaign API bound to this workflow), query
 * (targets a population into a working table of the cloud DB), updateData (writes the inbound population,
 * or the records it lists, through Write / Ingest / IngestExt) and delivery (finds or creates the task's
 * delivery action; the engine then waits for it). Runs outside the engine's transactions.
 */
export function createActivityRunner(deps: {
  sandbox: ScriptSandbox;
  data: WorkflowDataAccess;
  pool: Pool;
  schemas: ReadonlyMap<string, Schema>;
  limits: ActivityLimits;
  postEvent: (event: ScriptPostEvent) => Promise<void>;
  /** The delivery module (delivery activities fail without it). */
  deliveries?: WorkflowDeliveries;
  /** The time an update activity's timeout is measured with; the system clock by default. */
  now?: Clock;
}): ActivityRunner {
  const { limits } = deps;
  const clock = deps.now ?? systemClock;

  const runScript = async (work: WorkItem, signal: AbortSignal | undefined): Promise<WorkOutcome> => {
    const logs: ScriptLogLine[] = [];
    let extraLines = 0;
    const host = createScriptHost({
      data: deps.data,
      postEvent: deps.postEvent,
      log: (line) => (logs.length < limits.maxLogLines ? logs.push(line) : extraLines++),
    });
    const outcome = await deps.sandbox.run(
      {
        source: work.activity.script!,
        input: {
          vars: work.task.vars,
          instanceVars: work.instanceVars,
          taskVars: work.task.taskVars,
          instance: { id: work.workflowId, internalName: work.internalName },
          task: { id: work.task.id, activity: work.activity.name },
        },
        ...(signal ? { signal } : {}),
      },
      host,
    );
    if (extraLines > 0) logs.push({ level: 'warning', message: `${extraLines} more log lines were not kept (at most ${limits.maxLogLines} per task)` });
    if (!outcome.ok) {
      if (outcome.kind === 'abandoned') return { kind: 'abandoned', logs };
      if (outcome.kind === 'cancelled')
        return { kind: 'cancelled', logs, message: outcome.message, ...(outcome.line !== undefined ? { line: outcome.line } : {}) };
      return {
        kind: 'failed',
        code: SCRIPT_CODES[outcome.kind],
        message: outcome.message,
        ...(outcome.line !== undefined ? { line: outcome.line } : {}),
        logs,
      };
    }
    if (outcome.dropped.length > 0)
      logs.push({ level: 'warning', message: `variables not kept (only text, numbers, booleans and dates are): ${outcome.dropped.join(', ')}` });
    return {
      kind: 'done',
      vars: outcome.vars,
      instanceVars: diffVars(work.instanceVars, outcome.instanceVars),
      taskVars: outcome.taskVars,
      logs,
      note: `script done (${outcome.cpuMs} ms of CPU)`,
    };
  };

  const runQuery = async (work: WorkItem): Promise<WorkOutcome> => {
    const settings = work.activity.query!;
    const schema = deps.schemas.get(settings.schema);
    if (!schema?.primaryKey || schema.placement !== 'cloud') return failure(ACTIVITY_CODES.query, `${settings.schema} is not a cloud schema with records`);
    const table = `wkf_wt_${work.task.id}`;
    const keyType = schema.primaryKey.kind === 'uuid' ? 'text' : 'bigint';
    try {
      const where: XmlElement[] = [];
      if (settings.where) {
        // $(vars/@x) in the conditions: literals of the variables' values, bound by the compiler as parameters.
        const bound = bindWhereVariables(parseXml(settings.where), variableLookup(work.task.vars, work.instanceVars));
        if (bound.missing.length > 0) {
          const refs = bound.missing.map(formatVariableRef).join(', ');
          return failure(
            ACTIVITY_CODES.query,
            `the where condition uses ${refs}, but ${bound.missing.map((m) => m.name).join(', ')} ${bound.missing.length === 1 ? 'is' : 'are'} not set`,
          );
        }
        where.push(bound.where);
      }
      const compiled = compileQueryDef(
        element('queryDef', { schema: schema.id, operation: 'select', lineCount: String(limits.queryMaxRows) }, [
          element('select', {}, [element('node', { expr: schema.primaryKey.xpath })]),
          ...where,
        ]),
        deps.schemas,
        { database: 'cloud', defaultLineCount: limits.queryMaxRows, maxLineCount: limits.queryMaxRows },
      );
      const count = await withTransaction(deps.pool, async (client) => {
        await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(limits.activityTimeoutMs))}`);
        // A run interrupted after this transaction committed runs the activity again: the table is rebuilt.
        await client.query(`DROP TABLE IF EXISTS "${table}"`);
        await client.query(`CREATE TABLE "${table}" (id ${keyType} PRIMARY KEY)`);
        const inserted = await client.query(
          `INSERT INTO "${table}" (id) SELECT q."c0" FROM (${compiled.sql}) q WHERE q."c0" IS NOT NULL ON CONFLICT DO NOTHING`,
          compiled.params,
        );
        const n = inserted.rowCount ?? 0;
        await client.query(
          `INSERT INTO cap_wkf_worktable (table_name, workflow_id, run_id, task_id, schema_id, row_count) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (table_name) DO UPDATE SET run_id = EXCLUDED.run_id, schema_id = EXCLUDED.schema_id, row_count = EXCLUDED.row_count, created_at = now()`,
          [table, work.workflowId, work.runId, work.task.id, schema.id, n],
        );
        return n;
      });
      const logs: ScriptLogLine[] =
        count >= limits.queryMaxRows
          ? [{ level: 'warning', message: `the population was capped at ${limits.queryMaxRows} records (WORKFLOW_QUERY_MAX_ROWS)` }]
          : [];
      return {
        kind: 'done',
        vars: { ...work.task.vars, tableName: table, targetSchema: schema.id, schema: schema.id, recCount: count },
        taskVars: { tableName: table, recCount: count },
        logs,
        note: `${count} ${schema.id} record${count === 1 ? '' : 's'} targeted into working table ${table}`,
      };
    } catch (err) {
      return dataFailure(err);
    }
  };

  const runUpdate = async (work: WorkItem, signal: AbortSignal | undefined): Promise<WorkOutcome> => {
    const u = work.activity.update!;
    const vars = work.task.vars;
    const fill = (t: string) => fillTemplate(t, vars, work.instanceVars);
    const deadline = clock().getTime() + limits.activityTimeoutMs;
    let count = 0;
    try {
      if (u.records.length > 0) {
        for (const text of u.records) {
          const record = parseXml(text);
          record.attrs = Object.fromEntries(Object.entries(record.attrs).map(([k, v]) => [k, fill(v)]));
          await deps.data.write(u.mode, record);
          count++;
        }
        return {
          kind: 'done',
          vars: { ...vars, recCount: count },
          taskVars: { recCount: count },
          logs: [],
          note: `${count} record${count === 1 ? '' : 's'} written (${u.mode})`,
        };
      }
      const tableName = vars['tableName'];
      if (typeof tableName !== 'string' || !WORK_TABLE.test(tableName)) {
        return failure(
          ACTIVITY_CODES.update,
          `no inbound population (vars.tableName names no working table: put a query activity before it, or list the records in <data>)`,
        );
      }
      const registered = await deps.pool.query<{ schema_id: string }>('SELECT schema_id FROM cap_wkf_worktable WHERE table_name = $1 AND workflow_id = $2', [
        tableName,
        work.workflowId,
      ]);
      const source = deps.schemas.get(registered.rows[0]?.schema_id ?? '');
      if (!source?.primaryKey)
        return failure(ACTIVITY_CODES.update, `the working table ${tableName} is not one of this workflow's (it was dropped, or belongs to another run)`);
      const target = deps.schemas.get(u.schema ?? '');
      const keyXpath = source.primaryKey.xpath;
      if (!target || !(target.fields.some((f) => f.xpath === keyXpath) || target.primaryKey?.xpath === keyXpath)) {
        return failure(ACTIVITY_CODES.update, `${u.schema ?? '(no schema)'} has no ${keyXpath} to find the records of ${source.id} by`);
      }
      const keyAttr = keyXpath.slice(1);
      const values = Object.fromEntries(u.fields.map((f) => [f.xpath.slice(1), fill(f.value)]));
      let after: string | null = null;
      for (;;) {
        if (clock().getTime() > deadline) return failure(ACTIVITY_CODES.update, `stopped after ${limits.activityTimeoutMs} ms with ${count} records written`);
        if (signal?.aborted) return { kind: 'cancelled', logs: [], message: `interrupted after ${count} records written: the workflow was stopped` };
        const page: { rows: { id: string }[] } = await deps.pool.query<{ id: string }>(
          `SELECT id::text AS id FROM "${tableName}"${after === null ? '' : ` WHERE id > $2`} ORDER BY id LIMIT $1`,
          after === null ? [UPDATE_BATCH] : [UPDATE_BATCH, source.primaryKey.kind === 'uuid' ? after : BigInt(after).toString()],
        );
        if (page.rows.length === 0) break;
        const records = page.rows.map((r) => element(target.name, { _key: keyXpath, [keyAttr]: r.id, _operation: u.operation, ...values }));
        if (u.mode === 'write') {
          await deps.data.write('writeCollection', element(`${target.name}-collection`, { xtkschema: target.id }, records));
        } else {
          for (const r of records) await deps.data.write(u.mode, { ...r, attrs: { xtkschema: target.id, ...r.attrs } });
        }
        count += records.length;
        after = page.rows[page.rows.length - 1]!.id;
      }
      return {
        kind: 'done',
        vars: { ...vars, recCount: count },
        taskVars: { recCount: count },
        logs: [],
        note: `${count} ${target.id} record${count === 1 ? '' : 's'} written (${u.mode}, ${u.operation})`,
      };
    } catch (err) {
      return dataFailure(err);
    }
  };

  const runDelivery = async (work: WorkItem): Promise<WorkOutcome> => {
    const d = work.activity.delivery!;
    if (!deps.deliveries) return failure(ACTIVITY_CODES.delivery, 'this engine has no delivery module');
    const vars = work.task.vars;
    let target: DeliveryActionTarget;
    if (d.target === 'inbound') {
      const tableName = vars['tableName'];
      const registered =
        typeof tableName === 'string' && WORK_TABLE.test(tableName)
          ? (
              await deps.pool.query<{ schema_id: string }>('SELECT schema_id FROM cap_wkf_worktable WHERE table_name = $1 AND workflow_id = $2', [
                tableName,
                work.workflowId,
              ])
            ).rows[0]
          : undefined;
      if (!registered) {
        return failure(
          ACTIVITY_CODES.delivery,
          typeof tableName === 'string'
            ? `the working table ${tableName.slice(0, 64)} is not one of this workflow's (it was dropped, or belongs to another run)`
            : 'no inbound population (vars.tableName names no working table): put a query activity before it, or give it a <where> or target="template"',
        );
      }
      if (registered.schema_id !== RECIPIENT_SCHEMA)
        return failure(ACTIVITY_CODES.delivery, `the inbound population is of ${registered.schema_id}; deliveries target ${RECIPIENT_SCHEMA}`);
      target = { kind: 'population', table: tableName as string };
    } else if (d.target === 'where') {
      const bound = bindWhereVariables(parseXml(d.where), variableLookup(vars, work.instanceVars));
      if (bound.missing.length > 0) {
        return failure(
          ACTIVITY_CODES.delivery,
          `the where condition uses ${bound.missing.map(formatVariableRef).join(', ')}, but ${bound.missing.map((m) => m.name).join(', ')} ${bound.missing.length === 1 ? 'is' : 'are'} not set`,
        );
      }
      target = { kind: 'where', where: serializeXml(bound.where, { plain: true }) };
    } else target = { kind: 'template' };
    try {
      const { created, status } = await deps.deliveries.findOrCreate({
        template: d.template,
        target,
        workflowTaskId: work.task.id,
        ...(d.label !== undefined ? { label: fillTemplate(d.label, vars, work.instanceVars) } : {}),
      });
      const name = `${status.internalName} (${status.deliveryId})`;
      const targeted = status.phase === 'targeting' ? '' : `: ${status.targeted} targeted, ${status.excluded} excluded, ${status.toDeliver} to deliver`;
      return {
        kind: 'waitDelivery',
        deliveryId: status.deliveryId,
        deliveryName: status.internalName,
        logs: [],
        note: created
          ? `delivery ${name} created from template ${d.template}${targeted}`
          : `delivery ${name} was created by an earlier attempt: waiting for it`,
      };
    } catch (err) {
      if (isDeliveryError(err)) return failure(ACTIVITY_CODES.delivery, err.message);
      return dataFailure(err);
    }
  };

  return {
    async run(work, options = {}) {
      switch (work.activity.type) {
        case 'js':
          return runScript(work, options.signal);
        case 'query':
          return runQuery(work);
        case 'update':
          return runUpdate(work, options.signal);
        case 'delivery':
          return runDelivery(work);
        default:
          return failure(ACTIVITY_CODES.sandbox, `activity '${work.activity.name}' of type ${work.activity.type} does no work`);
      }
    },
  };
}
