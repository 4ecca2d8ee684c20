import { z } from 'zod';
import { applyDeliveryCommand, compileDeliveryTarget, DeliveryState, isDeliveryError, type DeliveryJobCommandState } from '@cap/campaign-delivery';
import { appError, appErrorOf, ErrorCatalogue, errors } from '@cap/platform-errors';
import { withTransaction } from '@cap/platform-postgres';
import {
  checkDeliveryDefinition,
  deliveryTemplateFields,
  recordDeliveryJob,
  TEMPLATE_COLUMNS,
  templateDefinition,
  type DeliveryJobDeps,
  type TemplateRow,
} from './delivery.submit';

const BIGINT_MAX = (1n << 63n) - 1n;

const commandParams = z.object({
  deliveryId: z.string().max(40),
  command: z.enum(['play', 'pause', 'stop', 'prepare']),
});

export interface DeliveryCommandResult {
  deliveryId: string;
  /** nms:delivery @state after the command. */
  state: number;
  /** False when the delivery already was where the command asked. */
  changed: boolean;
}

/**
 * `delivery.command` (nms:delivery#ExecCommand, Play, Pause, Stop): applies the command to the delivery action's
 * job under its row lock (applyDeliveryCommand in @cap/campaign-delivery says what it does), then publishes the
 * new state (nms:delivery @state) and, for play, wakes the runner. Pause and stop take effect at the next batch:
 * the runner checks the job's phase when it commits a batch and stops there, so at most the batch in hand when
 * the command landed is sent. A stopped delivery's retries are dropped with it. Play also starts a delivery being
 * edited that has no job yet (startEdited).
 */
export function createCommandHandler(deps: DeliveryJobDeps) {
  const log = deps.logger.child({ module: 'delivery-commands' });
  const { known } = deliveryTemplateFields(deps.schemas);

  /**
   * Play on a delivery that has no job yet: a delivery being edited (`@state` 0, not a template) written by the
   * caller — e.g. from nms:delivery#CreateFromModel — and replicated to the cloud copy. Its definition is checked
   * as SubmitDelivery's is, then recorded as its job under its own id and internal name. Undefined when there is
   * no such delivery, or when another Play recorded its job first.
   */
  const startEdited = async (deliveryId: string, prepareOnly = false): Promise<DeliveryCommandResult | undefined> => {
    const { rows } = await deps.pool.query<TemplateRow & { internal_name: string; delivery_code: string | null; state: number | null }>(
      `SELECT ${TEMPLATE_COLUMNS}, internal_name, delivery_code, state FROM nms_delivery WHERE id = $1 AND is_model IS NOT TRUE`,
      [deliveryId],
    );
    const row = rows[0];
    if (!row) return undefined;
    if ((row.state ?? 0) !== DeliveryState.edition)
      throw appError(ErrorCatalogue.DELIVERY_COMMAND_REFUSED, {
        deliveryId,
        command: prepareOnly ? 'prepare' : 'play',
        reason: `its state is ${row.state} and it has no delivery job`,
      });
    let recorded: boolean;
    try {
      const definition = checkDeliveryDefinition(deps, known, templateDefinition(row));
      compileDeliveryTarget(definition.targets, deps.schemas);
      recorded = await withTransaction(deps.pool, async (client) => {
        // Serialises two Plays of one delivery: the second finds the first one's job.
        await client.query('SELECT pg_advisory_xact_lock(727204, ($1::bigint % 2147483647)::int)', [deliveryId]);
        const exists = await client.query('SELECT 1 FROM cap_delivery_job WHERE delivery_id = $1', [deliveryId]);
        if (exists.rowCount === 1) return false;
        await recordDeliveryJob(client, {
          template: row.delivery_code ?? row.internal_name,
          definition,
          existing: { deliveryId, internalName: row.internal_name },
          prepareOnly,
        });
        return true;
      });
    } catch (err) {
      if (isDeliveryError(err)) throw appErrorOf(err);
      throw err;
    }
    if (!recorded) return undefined;
    log.info({ event: prepareOnly ? 'delivery.prepare_started' : 'delivery.started', deliveryId, internalName: row.internal_name }, 'edited delivery started');
    await deps.publisher
      .publish(deliveryId)
      .catch((err: unknown) => log.warn({ event: 'delivery.publish_failed', deliveryId, err }, 'state not published yet; retried by the worker'));
    deps.wake();
    return { deliveryId, state: prepareOnly ? DeliveryState.targeting : DeliveryState.started, changed: true };
  };

  /**
   * Prepare (analysis without sending): a delivery being edited with no job yet is recorded as a job that targets
   * and counts, then waits in phase 'prepared' (@state 25) for Start. Preparing a delivery already prepared answers
   * its state unchanged; one already started (or over) is refused, as is an id that names no delivery action.
   */
  const prepare = async (deliveryId: string): Promise<DeliveryCommandResult> => {
    const exists = async () => (await deps.pool.query('SELECT 1 FROM cap_delivery_job WHERE delivery_id = $1', [deliveryId])).rowCount === 1;
    if (!(await exists())) {
      const started = await startEdited(deliveryId, true);
      if (started) return started;
      if (!(await exists())) throw appError(ErrorCatalogue.DELIVERY_UNKNOWN, { deliveryId });
    }
    const { rows } = await deps.pool.query<{ phase: string; state: number; prepare_only: boolean }>(
      'SELECT phase, state, prepare_only FROM cap_delivery_job WHERE delivery_id = $1',
      [deliveryId],
    );
    const row = rows[0]!;
    if (row.prepare_only && (row.phase === 'prepared' || row.phase === 'targeting')) return { deliveryId, state: row.state, changed: false };
    throw appError(ErrorCatalogue.DELIVERY_COMMAND_REFUSED, { deliveryId, command: 'prepare', reason: `it was already started (state ${row.state})` });
  };

  return async (params: unknown): Promise<DeliveryCommandResult> => {
    const p = commandParams.safeParse(params);
    if (!p.success) throw errors.invalidRequest('delivery.command parameters', p.error.issues[0]?.message ?? 'rejected');
    const deliveryId = p.data.deliveryId.trim();
    if (!/^\d{1,19}$/.test(deliveryId) || BigInt(deliveryId) > BIGINT_MAX)
      throw appError(ErrorCatalogue.DELIVERY_UNKNOWN, { deliveryId: deliveryId.slice(0, 40) });
    if (p.data.command === 'prepare') return prepare(deliveryId);
    const command = p.data.command;
    if (command === 'play' && (await deps.pool.query('SELECT 1 FROM cap_delivery_job WHERE delivery_id = $1', [deliveryId])).rowCount === 0) {
      const started = await startEdited(deliveryId);
      if (started) return started;
    }
    const outcome = await withTransaction(deps.pool, async (client) => {
      const { rows } = await client.query<{ phase: DeliveryJobCommandState['phase']; paused_phase: DeliveryJobCommandState['pausedPhase'] }>(
        'SELECT phase, paused_phase FROM cap_delivery_job WHERE delivery_id = $1 FOR UPDATE',
        [deliveryId],
      );
      const row = rows[0];
      if (!row) throw appError(ErrorCatalogue.DELIVERY_UNKNOWN, { deliveryId });
      const result = applyDeliveryCommand({ phase: row.phase, pausedPhase: row.paused_phase }, command);
      if (!result.ok) throw appError(ErrorCatalogue.DELIVERY_COMMAND_REFUSED, { deliveryId, command, reason: result.reason });
      if (result.changed) {
        await client.query(
          `UPDATE cap_delivery_job SET phase = $2, paused_phase = $3, state = $4, next_run_at = now(), paused_runs = 0,
                  finished_at = CASE WHEN $2 = 'stopped' THEN now() ELSE finished_at END, updated_at = now(), state_version = state_version + 1
            WHERE delivery_id = $1`,
          [deliveryId, result.job.phase, result.job.pausedPhase, result.state],
        );
        if (result.job.phase === 'stopped') await client.query('DELETE FROM cap_delivery_retry WHERE delivery_id = $1', [deliveryId]);
      }
      return result;
    });
    if (outcome.changed) {
      log.info({ event: `delivery.${command}`, deliveryId, phase: outcome.job.phase, state: outcome.state }, 'delivery command applied');
      await deps.publisher
        .publish(deliveryId)
        .catch((err: unknown) => log.warn({ event: 'delivery.publish_failed', deliveryId, err }, 'state not published yet; retried by the worker'));
      if (command === 'play') deps.wake();
    }
    return { deliveryId, state: outcome.state, changed: outcome.changed };
  };
}
