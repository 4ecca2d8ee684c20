import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { DeliveryState } from '@cap/campaign-delivery';
import { appError, ErrorCatalogue, errors } from '@cap/platform-errors';
import { withTransaction, type Pool, type PoolClient } from '@cap/platform-postgres';
import type { RpcHandler } from '@cap/platform-kafka';

/** xtk:job:jobStatus as Adobe's SDK documents it (docs/deliveries.md#background-jobs). */
export const JobStatus = { running: 2, canceled: 4, finished: 5, error: 6, paused: 8 } as const;

/** The methods a job runs, by entity schema: each maps to a delivery command. */
const JOB_METHODS: Record<string, 'play' | 'prepare'> = { Start: 'play', PrepareAndStart: 'play', Prepare: 'prepare' };

const owner = { operatorId: z.string().min(1).max(64), admin: z.boolean() };
const submitParams = z.object({ ...owner, schema: z.string().max(128), method: z.string().max(128), objectId: z.string().max(40) });
const jobParams = z.object({ ...owner, jobId: z.string().max(64) });
const statusParams = jobParams.extend({ lastLogId: z.number().int().min(0), maxLogCount: z.number().int().min(1).max(1000) });

interface JobRow {
  job_id: string;
  operator_id: string;
  method: string;
  delivery_id: string;
  logged_state: number | null;
  state: number;
  phase: string;
  paused_phase: string | null;
  internal_name: string;
  processed: number;
  to_deliver: number;
  targeted: number;
  excluded: number;
  success: number;
  error: number;
  failure_text: string | null;
}

/**
 * The delivery state a job reports: a Prepare job is over once its delivery's analysis is (prepared, 25), whatever
 * the delivery does afterwards — a later Start, pause or stop belongs to the delivery, not to this job — so once
 * the analysis is done (or the job already reported it) it reads as 25.
 */
function jobState(row: JobRow): number {
  if (row.method !== 'Prepare') return row.state;
  const analysed =
    row.logged_state === DeliveryState.targeted ||
    row.phase === 'prepared' ||
    row.phase === 'sending' ||
    row.phase === 'finished' ||
    (row.phase === 'paused' && row.paused_phase === 'sending');
  return analysed ? DeliveryState.targeted : row.state;
}

function statusOfState(state: number): number {
  if (state === DeliveryState.targeted) return JobStatus.finished;
  if (state === DeliveryState.finished) return JobStatus.finished;
  if (state === DeliveryState.failed) return JobStatus.error;
  if (state === DeliveryState.paused) return JobStatus.paused;
  if (state === DeliveryState.stopped) return JobStatus.canceled;
  return JobStatus.running;
}

function logLine(r: JobRow): { type: number; message: string } {
  const name = `Delivery ${r.internal_name} (${r.delivery_id})`;
  switch (r.state) {
    case DeliveryState.finished:
      return { type: 2, message: `${name} finished: ${r.success} sent, ${r.error} failed.` };
    case DeliveryState.failed:
      return { type: 0, message: `${name} failed: ${r.failure_text ?? 'no reason given'}` };
    case DeliveryState.paused:
      return { type: 2, message: `${name} paused after ${r.processed} of ${r.to_deliver} messages.` };
    case DeliveryState.stopped:
      return { type: 1, message: `${name} stopped after ${r.processed} of ${r.to_deliver} messages.` };
    case DeliveryState.running:
      return { type: 2, message: `${name} in progress: ${r.to_deliver} messages to deliver.` };
    case DeliveryState.targeted:
      return {
        type: 2,
        message: `${name} prepared: ${r.to_deliver} messages to deliver (${r.targeted} targeted, ${r.excluded} excluded); nothing sent, waiting for Start.`,
      };
    case DeliveryState.targeting:
      return { type: 2, message: `${name} analysis requested.` };
    default:
      return { type: 2, message: `${name} start requested.` };
  }
}

const xmlAttr = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;').replace(/\n/g, '&#10;');

/**
 * Background jobs (xtk:jobInterface Submit / Execute / SubmitSoapCall; xtk:job#GetStatus, GetResult, Cancel,
 * Pause): a job runs Start or PrepareAndStart of an nms:delivery — the delivery's own durable job does the work;
 * Prepare runs its analysis only (targeting, counts) and the job is finished when the delivery is prepared (25)
 * (delivery.command.ts: play starts a delivery being edited or resumes a paused one). The job record (cap_job)
 * belongs to the operator who submitted it: another operator (not an admin) reading, cancelling or pausing it gets
 * JOB_UNKNOWN, as for an id that names no job. Its status follows the delivery (running, paused, canceled when
 * stopped, finished, error); its log gains a line each time a status read sees the delivery in a new state,
 * written under the job's row lock, so log ids only grow and lines survive a restart.
 */
export function createJobRpcHandlers(deps: { pool: Pool; command: (params: unknown) => Promise<{ state: number }> }): Record<string, RpcHandler> {
  /** The job and its delivery, if it is this operator's (or the caller is an admin); JOB_UNKNOWN otherwise. */
  const load = async (q: Pool | PoolClient, p: { operatorId: string; admin: boolean; jobId: string }, forUpdate = false): Promise<JobRow> => {
    const { rows } = await q.query<JobRow>(
      `SELECT j.job_id, j.operator_id, j.method, j.delivery_id::text AS delivery_id, j.logged_state, d.state, d.phase, d.paused_phase, d.internal_name, d.processed, d.to_deliver,
              d.targeted, d.excluded, d.success, d.error, d.failure_text
         FROM cap_job j JOIN cap_delivery_job d ON d.delivery_id = j.delivery_id WHERE j.job_id = $1${forUpdate ? ' FOR UPDATE OF j' : ''}`,
      [p.jobId],
    );
    const row = rows[0];
    if (!row || (!p.admin && row.operator_id !== p.operatorId)) throw appError(ErrorCatalogue.JOB_UNKNOWN, { jobId: p.jobId.slice(0, 64) });
    return { ...row, state: jobState(row) };
  };
  const parse = <T>(schema: z.ZodType<T>, params: unknown, what: string): T => {
    const p = schema.safeParse(params);
    if (!p.success) throw errors.invalidRequest(`${what} parameters`, p.error.issues[0]?.message ?? 'rejected');
    return p.data;
  };

  return {
    'job.submit': async (params) => {
      const p = parse(submitParams, params, 'job.submit');
      const command = p.schema === 'nms:delivery' ? JOB_METHODS[p.method] : undefined;
      if (!command)
        throw appError(ErrorCatalogue.JOB_METHOD_UNSUPPORTED, {
          method: p.method.slice(0, 64),
          schema: p.schema.slice(0, 64),
          reason: 'jobs run Prepare, Start and PrepareAndStart of an nms:delivery',
        });
      await deps.command({ deliveryId: p.objectId, command });
      const jobId = randomBytes(18).toString('base64url');
      await withTransaction(deps.pool, async (client) => {
        await client.query('INSERT INTO cap_job (job_id, operator_id, schema_id, method, delivery_id) VALUES ($1, $2, $3, $4, $5)', [
          jobId,
          p.operatorId,
          p.schema,
          p.method,
          p.objectId,
        ]);
        await client.query('INSERT INTO cap_job_log (job_id, log_type, message) VALUES ($1, 2, $2)', [
          jobId,
          `${p.method} of delivery ${p.objectId} submitted.`,
        ]);
      });
      return { jobId };
    },

    'job.status': async (params) => {
      const p = parse(statusParams, params, 'job.status');
      const row = await withTransaction(deps.pool, async (client) => {
        const r = await load(client, p, true);
        if (r.logged_state !== r.state) {
          const line = logLine(r);
          await client.query('INSERT INTO cap_job_log (job_id, log_type, message) VALUES ($1, $2, $3)', [r.job_id, line.type, line.message]);
          await client.query('UPDATE cap_job SET logged_state = $2 WHERE job_id = $1', [r.job_id, r.state]);
        }
        return r;
      });
      const logs = await deps.pool.query<{ id: string; log_type: number; message: string; log_date: Date }>(
        'SELECT id::text AS id, log_type, message, log_date FROM cap_job_log WHERE job_id = $1 AND id > $2 ORDER BY id LIMIT $3',
        [row.job_id, p.lastLogId, p.maxLogCount],
      );
      const status = statusOfState(row.state);
      const logXml = logs.rows
        .map(
          (l) =>
            `<log id="${l.id}" iRc="${l.log_type === 0 ? 16384 : 0}" logDate="${l.log_date.toISOString()}" logType="${l.log_type}" message="${xmlAttr(l.message)}" object="${xmlAttr(row.internal_name)}"/>`,
        )
        .join('');
      // A Prepare job's progress is its analysis: complete once the messages to deliver are counted.
      const current = row.method === 'Prepare' ? (status === JobStatus.finished ? row.to_deliver : 0) : row.processed;
      return {
        status,
        logs: `<returnLogs>${logXml}</returnLogs>`,
        properties: `<properties warning="${status === JobStatus.error ? 1 : 0}"><progress current="${current}" max="${row.to_deliver}"/></properties>`,
      };
    },

    'job.result': async (params) => {
      const p = parse(jobParams, params, 'job.result');
      const row = await load(deps.pool, p);
      if (statusOfState(row.state) !== JobStatus.finished)
        throw appError(ErrorCatalogue.JOB_NO_RESULT, { jobId: p.jobId, reason: `its delivery's state is ${row.state}` });
      return { result: '' };
    },

    'job.control': async (params) => {
      const p = parse(jobParams.extend({ command: z.enum(['pause', 'stop']) }), params, 'job.control');
      const row = await load(deps.pool, p);
      await deps.command({ deliveryId: row.delivery_id, command: p.command });
      return {};
    },
  };
}
