import type { Logger } from '@cap/platform-logger';
import type { Pool } from '@cap/platform-postgres';
import { startPollingWorker, type PollingWorker } from '@cap/platform-runtime';
import { RELAY_CONSUMER, type OutboxRelay } from './outbox.relay';

/** The longest wait between two looks at the quarantine while nothing is released. */
const IDLE_MAX_MS = 10_000;

/**
 * Puts the outbox changes an administrator released from the quarantine back into the outbox, oldest first (new
 * ids: they go out behind what is waiting), in one statement per round, so that of several replicas exactly one
 * moves each; then wakes the relay. With nothing released, it looks less and less often, down to once every
 * `IDLE_MAX_MS`: a release goes out within that time.
 */
export function startOutboxReplayer(deps: { pool: Pool; logger: Logger; relay: Pick<OutboxRelay, 'wake'>; intervalMs?: number }): PollingWorker {
  const round = async (): Promise<boolean> => {
    const { rowCount } = await deps.pool.query(
      `WITH taken AS (
         DELETE FROM cap_quarantine WHERE id IN (
           SELECT id FROM cap_quarantine WHERE consumer = $1 AND state = 'replay' ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED)
         RETURNING id, topic, message_key, value)
       INSERT INTO cap_outbox (topic, message_key, payload)
       SELECT topic, message_key, convert_from(value, 'UTF8')::jsonb FROM taken ORDER BY id`,
      [RELAY_CONSUMER],
    );
    if (rowCount) {
      deps.logger.info({ event: 'outbox.replayed', count: rowCount }, 'quarantined outbox changes put back in the outbox');
      deps.relay.wake();
    }
    return (rowCount ?? 0) > 0;
  };
  return startPollingWorker({
    name: 'outbox-replayer',
    intervalMs: deps.intervalMs ?? 2_000,
    idleMaxMs: Math.max(deps.intervalMs ?? 2_000, IDLE_MAX_MS),
    round,
    onError: (err) => deps.logger.warn({ event: 'outbox.replay_failed', err: { message: (err as Error).message } }, 'outbox replay failed; trying again'),
  });
}
