import type { Schema } from '@cap/campaign-schema';
import type { DataServiceWorker } from '@cap/platform-data-service';
import type { RpcHandler } from '@cap/platform-kafka';
import type { PgQuarantine, Pool } from '@cap/platform-postgres';
import type { ServiceBase } from '@cap/platform-runtime';
import { startOutboxRelay } from './outbox.relay';
import { startOutboxReplayer } from './outbox.replayer';
import { schemaKeyColumns } from './record-order.router';
import { RelayRouteTracker } from './relay-routes.tracker';
import { registerStagingMetrics } from './staging.metrics';
import { startStagingPurge } from './staging.purge';
import { createStagingRpcHandlers } from './staging.rpc-handlers';
import type { StagingSource } from './staging.sources';
import { startSyncAckConsumer } from './sync-ack.consumer';

export interface StagingModuleConfig {
  OUTBOX_BATCH_SIZE: number;
  OUTBOX_POLL_MS: number;
  OUTBOX_LINGER_MS: number;
  OUTBOX_MAX_LIVE_CHANGES: number;
  STAGING_FLUSH_WAIT_MS: number;
  STAGING_RETENTION_SECONDS: number;
  STAGING_PURGE_INTERVAL_MS: number;
  QUARANTINE_RETRY_BUDGET_MS: number;
}

/** How often the relay asks which of the changes it tracks staging-sync has applied. */
const ROUTE_REFRESH_MS = 100;

/**
 * The staging pipeline's local side (docs/staging.md): the outbox relay (it publishes staged and replicated
 * changes), the replayer of released outbox changes, the consumer of staging-sync's acknowledgements, the purge of
 * synced rows, the staging gauges, and the RPC handlers `staging.flush` / `staging.status`. The relay is started
 * first: the replayer and `staging.flush` wake it. Its workers, in start order (stopped in reverse): outbox-relay,
 * outbox-replayer, staging-acks, staging-purge.
 */
export async function createStagingModule(deps: {
  config: StagingModuleConfig;
  schemas: ReadonlyMap<string, Schema>;
  sources: StagingSource[];
  base: ServiceBase;
  pool: Pool;
  quarantine: PgQuarantine;
}): Promise<{ rpcHandlers: Record<string, RpcHandler>; workers: DataServiceWorker[] }> {
  const { config, sources, pool, base } = deps;
  registerStagingMetrics(base.registry, pool, sources, base.logger);
  const routing = new RelayRouteTracker(sources, schemaKeyColumns(deps.schemas), {
    maxLive: config.OUTBOX_MAX_LIVE_CHANGES,
    refreshMs: ROUTE_REFRESH_MS,
    registry: base.registry,
  });
  const relay = startOutboxRelay({
    pool,
    messaging: base.messaging,
    logger: base.logger,
    registry: base.registry,
    batchSize: config.OUTBOX_BATCH_SIZE,
    idleMs: config.OUTBOX_POLL_MS,
    lingerMs: config.OUTBOX_LINGER_MS,
    routing,
    quarantine: deps.quarantine,
  });
  const replayer = startOutboxReplayer({ pool, logger: base.logger, relay });
  const acks = await startSyncAckConsumer({
    pool,
    messaging: base.messaging,
    sources,
    quarantine: { store: deps.quarantine, retryBudgetMs: config.QUARANTINE_RETRY_BUDGET_MS },
  }).catch(async (err: unknown) => {
    await replayer.stop();
    await relay.stop();
    throw err;
  });
  const purge = startStagingPurge({
    pool,
    sources,
    retentionMs: config.STAGING_RETENTION_SECONDS * 1000,
    intervalMs: config.STAGING_PURGE_INTERVAL_MS,
    logger: base.logger,
  });
  return {
    rpcHandlers: createStagingRpcHandlers({ pool, sources, relay, flushWaitMs: config.STAGING_FLUSH_WAIT_MS }),
    workers: [
      { name: 'outbox-relay', check: () => relay.check(), stop: () => relay.stop() },
      { name: 'outbox-replayer', stop: () => replayer.stop() },
      { name: 'staging-acks', check: () => acks.checkHealth(), stop: () => acks.stop() },
      { name: 'staging-purge', stop: () => purge.stop() },
    ],
  };
}
