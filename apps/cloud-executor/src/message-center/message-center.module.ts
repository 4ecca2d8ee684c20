import type { DataServiceWorker } from '@cap/platform-data-service';
import type { PgQuarantine, Pool } from '@cap/platform-postgres';
import { exponentialBackoff } from '@cap/platform-resilience';
import type { ServiceBase } from '@cap/platform-runtime';
import type { ChannelRegistry } from '../channels/channel.registry';
import { createMessageCenterMetrics, startEventConsumer } from './event.consumer';
import { createEventProcessor } from './event.processor';
import { startEventRetryWorker } from './event-retry.worker';

export interface MessageCenterModuleConfig {
  MESSAGE_DEFAULT_SENDER: string;
  QUARANTINE_RETRY_BUDGET_MS: number;
  MC_BATCH_SIZE: number;
  MC_MAX_ATTEMPTS: number;
  MC_RETRY_DELAY_MS: number;
  MC_RETRY_MAX_DELAY_MS: number;
  MC_RETRY_TICK_MS: number;
}

/**
 * The message center (transactional events, docs/deliveries.md): the consumer of messagecenter.event.created.v1
 * and the retry loop, sharing one event processor and one metric. The retry loop starts first: the consumer
 * wakes it when it schedules retries. It offers no RPC handler; its workers, in start order (stopped in
 * reverse): message-center (the consumer), the retry loop. The channels are the caller's: it closes them after
 * these workers have stopped.
 */
export async function createMessageCenterModule(deps: {
  config: MessageCenterModuleConfig;
  base: ServiceBase;
  pool: Pool;
  quarantine: PgQuarantine;
  channels: ChannelRegistry;
}): Promise<{ workers: DataServiceWorker[] }> {
  const { config, base, pool } = deps;
  const retryDelay = (attempts: number) => exponentialBackoff(attempts, { initialMs: config.MC_RETRY_DELAY_MS, maxMs: config.MC_RETRY_MAX_DELAY_MS });
  const processEvents = createEventProcessor({
    pool,
    channels: deps.channels,
    defaultSender: config.MESSAGE_DEFAULT_SENDER,
    maxAttempts: config.MC_MAX_ATTEMPTS,
  });
  const metrics = createMessageCenterMetrics(base.registry);
  const retry = startEventRetryWorker(
    { pool, messaging: base.messaging, logger: base.logger, processEvents, intervalMs: config.MC_RETRY_TICK_MS, batchSize: config.MC_BATCH_SIZE, retryDelay },
    metrics,
  );
  const consumer = await startEventConsumer(
    {
      pool,
      messaging: base.messaging,
      logger: base.logger,
      registry: base.registry,
      processEvents,
      maxBatchSize: config.MC_BATCH_SIZE,
      retryDelay,
      quarantine: { store: deps.quarantine, retryBudgetMs: config.QUARANTINE_RETRY_BUDGET_MS },
      onRetriesScheduled: () => retry.wake(),
    },
    metrics,
  ).catch(async (err: unknown) => {
    await retry.stop();
    throw err;
  });
  return {
    workers: [{ name: 'message-center', check: () => consumer.checkHealth(), stop: () => consumer.stop() }, retry],
  };
}
