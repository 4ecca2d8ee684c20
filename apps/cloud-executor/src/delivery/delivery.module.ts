import type { Schema } from '@cap/campaign-schema';
import type { DataServiceContext, DataServiceWorker } from '@cap/platform-data-service';
import { REPORTING_SUMMARY_METHOD } from '@cap/contracts';
import type { RpcHandler } from '@cap/platform-kafka';
import { exponentialBackoff } from '@cap/platform-resilience';
import { createChannelRegistry, type ChannelConfig, type ChannelRegistry } from '../channels/channel.registry';
import { createMessageCenterMetrics, startEventConsumer } from '../message-center/event.consumer';
import { createEventProcessor } from '../message-center/event.processor';
import { startEventRetryWorker } from '../message-center/event-retry.worker';
import { createReportingSummaryHandler } from '../reporting/reporting-summary.handler';
import { createDeliveryActions, type DeliveryActions } from './delivery-action.creator';
import { createDeliveryStatePublisher, type DeliveryStatePublisher } from './delivery-state.publisher';
import { DEFAULT_DELIVERY_RETRY, startDeliveryRunner, type DeliveryRunner } from './delivery.runner';
import { createSubmitHandler } from './delivery.submit';

export interface DeliveryModuleConfig extends ChannelConfig {
  MESSAGE_DEFAULT_SENDER: string;
  QUARANTINE_RETRY_BUDGET_MS: number;
  DELIVERY_BATCH_SIZE: number;
  DELIVERY_TICK_MS: number;
  DELIVERY_PROGRESS_MS: number;
  DELIVERY_PAUSE_MS: number;
  /** Optional (defaults: DEFAULT_DELIVERY_RETRY): retries of single messages that failed temporarily. */
  DELIVERY_RETRY_COUNT?: number;
  DELIVERY_RETRY_PERIOD_MS?: number;
  DELIVERY_RETRY_MAX_PERIOD_MS?: number;
  MC_BATCH_SIZE: number;
  MC_MAX_ATTEMPTS: number;
  MC_RETRY_DELAY_MS: number;
  MC_RETRY_MAX_DELAY_MS: number;
  MC_RETRY_TICK_MS: number;
}

/**
 * Wiring of deliveries (nms:delivery#SubmitDelivery → durable jobs) and the message center (transactional
 * events) into cloud-executor's data-service hooks: `prepare` builds the channels and adds the index the
 * sending loop reads by; `createHandlers` serves delivery.submit and reporting.summary; `startWorkers` runs the delivery runner, the
 * event consumer and the retry loop (stopped before the channels close).
 */
export function createDeliveryModule(config: DeliveryModuleConfig, schemas: ReadonlyMap<string, Schema>) {
  let ready: { channels: ChannelRegistry; publisher: DeliveryStatePublisher; actions: DeliveryActions } | undefined;
  let runner: DeliveryRunner | undefined;
  const get = () => {
    if (!ready) throw new Error('delivery module used before prepare()');
    return ready;
  };
  const retryDelay = (attempts: number) => exponentialBackoff(attempts, { initialMs: config.MC_RETRY_DELAY_MS, maxMs: config.MC_RETRY_MAX_DELAY_MS });
  return {
    async prepare({ pool, base }: DataServiceContext): Promise<void> {
      // The sending loop reads a delivery's pending logs in id order: a partial index keeps that cheap.
      const { rows } = await pool.query<{ ok: boolean }>("SELECT to_regclass('nms_broad_log_rcp') IS NOT NULL AS ok");
      if (rows[0]?.ok) await pool.query('CREATE INDEX IF NOT EXISTS cap_broad_log_rcp_pending ON nms_broad_log_rcp (delivery_id, id) WHERE status = 0');
      const channels = createChannelRegistry(config, { logger: base.logger, registry: base.registry });
      const publisher = createDeliveryStatePublisher({ pool, messaging: base.messaging });
      // Delivery actions of workflow delivery activities (same jobs, same runner as SubmitDelivery).
      const actions = createDeliveryActions({ pool, schemas, channels, publisher, defaultSender: config.MESSAGE_DEFAULT_SENDER, logger: base.logger, wake: () => runner?.wake() });
      ready = { channels, publisher, actions };
    },
    /** What workflow delivery activities use (after prepare()). */
    actions(): DeliveryActions {
      return get().actions;
    },
    createHandlers({ pool, base }: DataServiceContext): Record<string, RpcHandler> {
      const { channels, publisher } = get();
      return {
        'delivery.submit': createSubmitHandler({ pool, schemas, channels, publisher, defaultSender: config.MESSAGE_DEFAULT_SENDER, logger: base.logger, wake: () => runner?.wake() }),
        [REPORTING_SUMMARY_METHOD]: createReportingSummaryHandler({ pool }),
      };
    },
    async startWorkers({ pool, base, quarantine }: DataServiceContext): Promise<DataServiceWorker[]> {
      const { channels, publisher } = get();
      runner = startDeliveryRunner({
        pool,
        schemas,
        channels,
        publisher,
        logger: base.logger,
        registry: base.registry,
        batchSize: config.DELIVERY_BATCH_SIZE,
        tickMs: config.DELIVERY_TICK_MS,
        progressMs: config.DELIVERY_PROGRESS_MS,
        pauseMs: config.DELIVERY_PAUSE_MS,
        retry: {
          maxRetries: config.DELIVERY_RETRY_COUNT ?? DEFAULT_DELIVERY_RETRY.maxRetries,
          delayMs: config.DELIVERY_RETRY_PERIOD_MS ?? DEFAULT_DELIVERY_RETRY.delayMs,
          maxDelayMs: config.DELIVERY_RETRY_MAX_PERIOD_MS ?? DEFAULT_DELIVERY_RETRY.maxDelayMs,
        },
      });
      const processEvents = createEventProcessor({ pool, channels, defaultSender: config.MESSAGE_DEFAULT_SENDER, maxAttempts: config.MC_MAX_ATTEMPTS });
      const metrics = createMessageCenterMetrics(base.registry);
      const retry = startEventRetryWorker({ pool, messaging: base.messaging, logger: base.logger, processEvents, intervalMs: config.MC_RETRY_TICK_MS, batchSize: config.MC_BATCH_SIZE, retryDelay }, metrics);
      const consumer = await startEventConsumer(
        {
          pool,
          messaging: base.messaging,
          logger: base.logger,
          registry: base.registry,
          processEvents,
          maxBatchSize: config.MC_BATCH_SIZE,
          retryDelay,
          quarantine: { store: quarantine, retryBudgetMs: config.QUARANTINE_RETRY_BUDGET_MS },
          onRetriesScheduled: () => retry.wake(),
        },
        metrics,
      ).catch(async (err: unknown) => {
        await retry.stop();
        throw err;
      });
      const started = runner;
      return [
        { name: 'channels', stop: () => channels.close() },
        { name: 'delivery-runner', stop: () => started.stop() },
        { name: 'message-center', check: () => consumer.checkHealth(), stop: () => consumer.stop() },
        retry,
      ];
    },
  };
}
