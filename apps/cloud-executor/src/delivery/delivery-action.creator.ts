import { compileDeliveryTarget, RECIPIENT_SCHEMA, type DeliveryDefinition, type DeliveryJobPhase } from '@cap/campaign-delivery';
import { element, parseXml } from '@cap/campaign-xml';
import type { DeliveryIndicators } from '@cap/contracts';
import { withTransaction, type Pool, type PoolClient } from '@cap/platform-postgres';
import { indicatorsOf, type DeliveryJobCounters } from './delivery-job.row';
import { writeDeliveryLogs } from './delivery-logs.writer';
import { deliveryTemplateFields, loadDeliveryDefinition, recordDeliveryJob, type DeliveryJobDeps } from './delivery.submit';

/** Whom a delivery action created by a workflow targets. */
export type DeliveryActionTarget =
  /** The template's own `<targets>`. */
  | { kind: 'template' }
  /** A `<where>` of the activity (queryDef conditions on nms:recipient), serialised. */
  | { kind: 'where'; where: string }
  /** The recipients of a working table (`wkf_wt_<task id>`, primary keys of nms:recipient) the caller has checked. */
  | { kind: 'population'; table: string };

export interface DeliveryActionRequest {
  /** The template's internal name (an nms:delivery with @isModel). */
  template: string;
  /** Replaces the template's label when given. */
  label?: string;
  target: DeliveryActionTarget;
  /** The workflow task creating the action: one action per task, whoever runs it and however often. */
  workflowTaskId: string;
}

export interface DeliveryActionStatus extends DeliveryIndicators {
  deliveryId: string;
  internalName: string;
  phase: DeliveryJobPhase;
  /** nms:delivery @state: 45, 55, 72 paused, 85 stopped, 95, 99. */
  state: number;
  failureText: string | null;
}

export interface DeliveryActions {
  /**
   * Checks that a template exists and could be sent (channel, personalisation, and its own target when
   * `templateTarget`); throws DeliveryError.
   */
  checkTemplate(template: string, options: { templateTarget: boolean }): Promise<void>;
  /** The action of this workflow task, created (and, for a population, targeted) in one transaction if there is none yet. */
  findOrCreate(request: DeliveryActionRequest): Promise<{ created: boolean; status: DeliveryActionStatus }>;
  status(deliveryId: string): Promise<DeliveryActionStatus | undefined>;
}

const WORK_TABLE = /^wkf_wt_\d+$/;

interface StatusRow extends DeliveryJobCounters {
  delivery_id: string;
  internal_name: string;
  phase: DeliveryActionStatus['phase'];
}
const STATUS_COLUMNS = 'delivery_id::text AS delivery_id, internal_name, phase, state, failure_text, targeted, excluded, to_deliver, processed, success, error';
const toStatus = (r: StatusRow): DeliveryActionStatus => ({
  deliveryId: r.delivery_id,
  internalName: r.internal_name,
  phase: r.phase,
  state: r.state,
  failureText: r.failure_text,
  ...indicatorsOf(r),
});

/**
 * Delivery actions created by workflow delivery activities, on the same durable jobs as SubmitDelivery
 * (cap_delivery_job, sent by delivery.runner.ts): the template is found and merged the same way and checked
 * the same way before anything is recorded. A target of the template or a where clause is targeted by the
 * runner as for SubmitDelivery; a working table (the population of the query activity before) is targeted
 * here, in the transaction that records the job — the table belongs to the workflow's run and may be dropped
 * once the activity is over, the logs may not. Exclusions are those of every delivery: denylisted recipients
 * and recipients without an address for the channel are counted in `excluded`, without a log.
 */
export function createDeliveryActions(deps: DeliveryJobDeps): DeliveryActions {
  const { known } = deliveryTemplateFields(deps.schemas);
  const log = deps.logger.child({ module: 'delivery-actions' });
  const recipients = deps.schemas.get(RECIPIENT_SCHEMA)!;
  const column = (xpath: string) => {
    const f = recipients.fields.find((x) => x.xpath === xpath);
    if (!f) throw new Error(`${RECIPIENT_SCHEMA} has no ${xpath}`);
    return f.column;
  };

  /** The merged definition, checked as SubmitDelivery checks it. */
  const prepare = async (request: { template: string; label?: string; target: DeliveryActionTarget }): Promise<DeliveryDefinition> => {
    const overrides = request.target.kind === 'where' ? [element('targets', {}, [parseXml(request.target.where)])] : [];
    const definition = await loadDeliveryDefinition(
      deps,
      known,
      request.template,
      element('delivery', request.label !== undefined ? { label: request.label } : {}, overrides),
    );
    if (request.target.kind === 'population') definition.targets = '';
    else compileDeliveryTarget(definition.targets, deps.schemas);
    return definition;
  };

  /** The logs of a population: its recipients with an address for the channel and not denylisted, in one statement. */
  const targetPopulation = async (client: PoolClient, deliveryId: string, table: string, messageType: number): Promise<void> => {
    if (!WORK_TABLE.test(table)) throw new Error(`unexpected working table name ${table}`);
    const address = column(messageType === 1 ? '@mobilePhone' : '@email');
    const sql = `SELECT r."${recipients.primaryKey!.column}" AS id, r."${address}" AS address, r."${column('@blackList')}" AS black_list
                   FROM "${recipients.table}" r JOIN "${table}" w ON w.id = r."${recipients.primaryKey!.column}"`;
    await writeDeliveryLogs(client, deliveryId, { sql, params: [], columns: { id: 'id', address: 'address', blackList: 'black_list' } });
  };

  const findByTask = async (client: Pool | PoolClient, taskId: string) =>
    (await client.query<StatusRow>(`SELECT ${STATUS_COLUMNS} FROM cap_delivery_job WHERE workflow_task_id = $1`, [taskId])).rows[0];

  return {
    async checkTemplate(template, options) {
      // Any target but the template's is checked by the caller (a where clause) or has nothing to check (a population).
      await prepare({ template, target: options.templateTarget ? { kind: 'template' } : { kind: 'population', table: 'wkf_wt_0' } });
    },

    async findOrCreate(request) {
      const existing = await findByTask(deps.pool, request.workflowTaskId);
      if (existing) return { created: false, status: toStatus(existing) };
      const definition = await prepare(request);
      const result = await withTransaction(deps.pool, async (client) => {
        // Serialises two engines on one task (a claim taken over): the second finds the first one's action.
        await client.query('SELECT pg_advisory_xact_lock(727203, ($1::bigint % 2147483647)::int)', [request.workflowTaskId]);
        const again = await findByTask(client, request.workflowTaskId);
        if (again) return { created: false, status: toStatus(again) };
        const { deliveryId } = await recordDeliveryJob(client, { template: request.template, definition, workflowTaskId: request.workflowTaskId });
        if (request.target.kind === 'population') await targetPopulation(client, deliveryId, request.target.table, definition.messageType);
        return { created: true, status: toStatus((await findByTask(client, request.workflowTaskId))!) };
      });
      if (result.created) {
        log.info(
          {
            event: 'delivery.created_by_workflow',
            deliveryId: result.status.deliveryId,
            template: request.template,
            target: request.target.kind,
            workflowTaskId: request.workflowTaskId,
          },
          'delivery recorded',
        );
        await deps.publisher
          .publish(result.status.deliveryId)
          .catch((err: unknown) =>
            log.warn({ event: 'delivery.publish_failed', deliveryId: result.status.deliveryId, err }, 'state not published yet; retried by the worker'),
          );
        deps.wake();
      }
      return result;
    },

    async status(deliveryId) {
      const { rows } = await deps.pool.query<StatusRow>(`SELECT ${STATUS_COLUMNS} FROM cap_delivery_job WHERE delivery_id = $1`, [deliveryId]);
      return rows[0] ? toStatus(rows[0]) : undefined;
    },
  };
}
