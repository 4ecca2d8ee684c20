import type { Schema } from '@cap/campaign-schema';
import { REPORTING_SUMMARY_METHOD } from '@cap/contracts';
import type { DataServiceWorker } from '@cap/platform-data-service';
import type { RpcHandler } from '@cap/platform-kafka';
import type { Pool } from '@cap/platform-postgres';
import type { ServiceBase } from '@cap/platform-runtime';
import type { ChannelRegistry } from '../channels/channel.registry';
import { createReportingSummaryHandler } from '../reporting/reporting-summary.handler';
import { createDeliveryActions, type DeliveryActions } from './delivery-action.creator';
import { createDeliveryStatePublisher } from './delivery-state.publisher';
import { DEFAULT_DELIVERY_RETRY, startDeliveryRunner } from './delivery.runner';
import { createSubmitHandler } from './delivery.submit';
import { createCommandHandler } from './delivery.command';
import { createFromModelHandler } from './delivery.from-model';
import { createFilesToDownloadHandler, createMessageTemplateLiveHandler } from './delivery.deploy';
import { createJobRpcHandlers } from './delivery.jobs';

export interface DeliveryModuleConfig {
  MESSAGE_DEFAULT_SENDER: string;
  DELIVERY_BATCH_SIZE: number;
  DELIVERY_TICK_MS: number;
  DELIVERY_PROGRESS_MS: number;
  DELIVERY_PAUSE_MS: number;
  /** Optional (defaults: DEFAULT_DELIVERY_RETRY): retries of single messages that failed temporarily. */
  DELIVERY_RETRY_COUNT?: number;
  DELIVERY_RETRY_PERIOD_MS?: number;
  DELIVERY_RETRY_MAX_PERIOD_MS?: number;
}

export interface DeliveryModule {
  /** What workflow delivery activities use: the same jobs and runner as SubmitDelivery. */
  actions: DeliveryActions;
  /** delivery.submit (nms:delivery#SubmitDelivery), delivery.command (ExecCommand, Play, Pause, Stop), delivery.fromModel (CreateFromModel), delivery.messageTemplateLive (DeployTriggerMessageSingle), job.* (xtk:jobInterface, xtk:job) and reporting.summary. */
  rpcHandlers: Record<string, RpcHandler>;
  /** The delivery runner, already running. */
  workers: DataServiceWorker[];
}

/**
 * Deliveries: nms:delivery#SubmitDelivery and workflow delivery activities record durable jobs
 * (cap_delivery_job) that the delivery runner targets and sends through the channels (docs/deliveries.md). The
 * runner starts first: submitting and delivery actions wake it. The channels are the caller's (the message
 * center sends through them too): it closes them after this module's workers have stopped.
 */
export async function createDeliveryModule(deps: {
  config: DeliveryModuleConfig;
  schemas: ReadonlyMap<string, Schema>;
  base: ServiceBase;
  pool: Pool;
  channels: ChannelRegistry;
}): Promise<DeliveryModule> {
  const { config, schemas, base, pool, channels } = deps;
  const publisher = createDeliveryStatePublisher({ pool, messaging: base.messaging });
  const runner = startDeliveryRunner({
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
  const jobs = { pool, schemas, channels, publisher, defaultSender: config.MESSAGE_DEFAULT_SENDER, logger: base.logger, wake: () => runner.wake() };
  const command = createCommandHandler(jobs);
  return {
    actions: createDeliveryActions(jobs),
    rpcHandlers: {
      'delivery.submit': createSubmitHandler(jobs),
      'delivery.command': command,
      ...createJobRpcHandlers({ pool, command }),
      'delivery.fromModel': createFromModelHandler(jobs),
      'delivery.messageTemplateLive': createMessageTemplateLiveHandler({ pool }),
      'delivery.filesToDownload': createFilesToDownloadHandler({ pool }),
      [REPORTING_SUMMARY_METHOD]: createReportingSummaryHandler({ pool }),
    },
    workers: [{ name: 'delivery-runner', stop: () => runner.stop() }],
  };
}
