import { z } from 'zod';
import { applyDeliveryCommand, type DeliveryJobCommandState } from '@cap/campaign-delivery';
import { appError, ErrorCatalogue, errors } from '@cap/platform-errors';
import type { Logger } from '@cap/platform-logger';
import { withTransaction, type Pool } from '@cap/platform-postgres';
import type { DeliveryStatePublisher } from './delivery-state.publisher';

const BIGINT_MAX = (1n << 63n) - 1n;

const commandParams = z.object({
  deliveryId: z.string().max(40),
  command: z.enum(['play', 'pause', 'stop']),
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
 * the command landed is sent. A stopped delivery's retries are dropped with it.
 */
export function createCommandHandler(deps: { pool: Pool; publisher: DeliveryStatePublisher; logger: Logger; wake(): void }) {
  const log = deps.logger.child({ module: 'delivery-commands' });
  return async (params: unknown): Promise<DeliveryCommandResult> => {
    const p = commandParams.safeParse(params);
    if (!p.success) throw errors.invalidRequest('delivery.command parameters', p.error.issues[0]?.message ?? 'rejected');
    const { command } = p.data;
    const deliveryId = p.data.deliveryId.trim();
    if (!/^\d{1,19}$/.test(deliveryId) || BigInt(deliveryId) > BIGINT_MAX)
      throw appError(ErrorCatalogue.DELIVERY_UNKNOWN, { deliveryId: deliveryId.slice(0, 40) });
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
