import type { MessageQuarantine, Messaging } from '@cap/platform-kafka';
import type { Logger } from '@cap/platform-logger';
import { startPollingWorker, type PollingWorker } from './polling.worker';

/** The longest wait between two looks at the quarantine while nothing is released. */
const IDLE_MAX_MS = 10_000;

/**
 * Sends the messages an administrator released from the quarantine back to their topic, oldest first, with their
 * key (so they reach the partition, and the consumer, they came from) and headers; they are then processed as any
 * message is. Runs in the service that owns the consumers named. With nothing released, it looks less and less
 * often, down to once every `IDLE_MAX_MS`: a release goes out within that time.
 */
export function startQuarantineReplayer(deps: {
  messaging: Messaging;
  store: MessageQuarantine;
  consumers: string[];
  logger: Logger;
  intervalMs?: number;
}): PollingWorker {
  const logger = deps.logger.child({ module: 'quarantine-replayer' });
  const intervalMs = deps.intervalMs ?? 2_000;
  const round = async (): Promise<boolean> => {
    for (let found = false; ; found = true) {
      const replays = await deps.store.takeReplays(deps.consumers, 100);
      if (replays.length === 0) return found;
      for (const r of replays) await deps.messaging.publishRaw(r.topic, [{ key: r.key, value: r.value, headers: r.headers }]);
      await deps.store.replayed(replays.map((r) => r.id));
      logger.info(
        { event: 'quarantine.replayed', count: replays.length, consumers: [...new Set(replays.map((r) => r.consumer))] },
        'quarantined messages sent back to their topic',
      );
    }
  };
  return startPollingWorker({
    name: 'quarantine-replayer',
    intervalMs,
    idleMaxMs: Math.max(intervalMs, IDLE_MAX_MS),
    round,
    onError: (err) => logger.warn({ event: 'quarantine.replay_failed', err: { message: (err as Error).message } }, 'quarantine replay failed; trying again'),
  });
}
