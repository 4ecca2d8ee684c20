import { Counter, Histogram, type Registry } from 'prom-client';
import { TOPICS, type StagedChange } from '@cap/contracts';
import { runBatchConsumer, type ConsumerRunner, type IncomingMessage, type Messaging, type MessageQuarantine } from '@cap/platform-kafka';
import type { Logger } from '@cap/platform-logger';
import { withTransaction, type Pool } from '@cap/platform-postgres';
import { createBreaker } from '@cap/platform-resilience';
import { applyBatch, type ApplyOutcome } from './batch.applier';
import type { CloudTable } from './cloud.tables';

export interface SyncWorkerOptions {
  pool: Pool;
  messaging: Messaging;
  logger: Logger;
  registry: Registry;
  tables: ReadonlyMap<string, CloudTable>;
  /** Sources whose rows local-store tracks (staging schemas, Subscribe requests): acknowledged after commit. */
  acknowledged: (source: string) => boolean;
  maxBatchSize: number;
  maxWaitMs: number;
  minBytes?: number;
  concurrency: number;
  breaker: { timeoutMs: number; resetTimeoutMs: number };
  /** Where changes that cannot be applied are set aside (their key's later changes wait behind them). */
  quarantine?: { store: MessageQuarantine; retryBudgetMs: number };
}

/** The workers' consumer group, and their name in the quarantine. */
export const SYNC_CONSUMER = 'staging-sync';

/**
 * A staging-sync worker: one member of the consumer group over the staging and replication topics. Each
 * batch is applied in ONE cloud transaction (behind a breaker); only after it commits are the rows
 * acknowledged to local-store and the offsets committed. Run as many workers as the topics have partitions.
 */
export async function startSyncWorker(options: SyncWorkerOptions): Promise<ConsumerRunner> {
  const { logger } = options;
  const metrics = {
    rows: new Counter({
      name: 'cap_sync_rows_applied_total',
      help: 'Changes written to the cloud DB (after per-key folding)',
      labelNames: ['schema', 'op'],
      registers: [options.registry],
    }),
    messages: new Counter({ name: 'cap_sync_messages_total', help: 'Change messages processed', labelNames: ['source'], registers: [options.registry] }),
    stale: new Counter({
      name: 'cap_sync_stale_skipped_total',
      help: 'Changes skipped because a newer change of their key was already applied',
      registers: [options.registry],
    }),
    deadLettered: new Counter({
      name: 'cap_sync_dead_lettered_total',
      help: 'Changes sent to the dead-letter topic',
      labelNames: ['source'],
      registers: [options.registry],
    }),
    batchSeconds: new Histogram({
      name: 'cap_sync_batch_seconds',
      help: 'Time to apply one batch in the cloud DB',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [options.registry],
    }),
    batchSize: new Histogram({
      name: 'cap_sync_batch_size',
      help: 'Messages per applied batch',
      buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000],
      registers: [options.registry],
    }),
    lagSeconds: new Histogram({
      name: 'cap_sync_lag_seconds',
      help: 'From the local write to the cloud commit',
      labelNames: ['source'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600],
      registers: [options.registry],
    }),
  };
  const apply = createBreaker(
    (changes: StagedChange[], routes: (string | undefined)[]) => withTransaction(options.pool, (client) => applyBatch(client, options.tables, changes, routes)),
    {
      name: 'cloud-db',
      logger,
      registry: options.registry,
      timeoutMs: options.breaker.timeoutMs,
      resetTimeoutMs: options.breaker.resetTimeoutMs,
      volumeThreshold: 3,
    },
  );

  const acknowledge = async (synced: Map<string, string[]>, deadLettered: Map<string, string[]>) => {
    const sources = new Set([...synced.keys(), ...deadLettered.keys()].filter(options.acknowledged));
    if (sources.size === 0) return;
    await options.messaging.publish(
      TOPICS.stagingSynced,
      [...sources].map((source) => ({ key: source, payload: { source, synced: synced.get(source) ?? [], deadLettered: deadLettered.get(source) ?? [] } })),
    );
  };

  return runBatchConsumer(options.messaging, {
    groupId: SYNC_CONSUMER,
    topics: [TOPICS.stagingChanges, TOPICS.replicationChanges],
    maxBatchSize: options.maxBatchSize,
    maxWaitMs: options.maxWaitMs,
    ...(options.minBytes ? { minBytes: options.minBytes } : {}),
    concurrency: options.concurrency,
    fromBeginning: true,
    ...(options.quarantine ? { quarantine: { store: options.quarantine.store, retryBudgetMs: options.quarantine.retryBudgetMs } } : {}),
    async handleBatch(messages: IncomingMessage<StagedChange>[]) {
      const changes = messages.map((m) => m.envelope.payload);
      const end = metrics.batchSeconds.startTimer();
      const outcome: ApplyOutcome = await apply.fire(
        changes,
        messages.map((m) => m.key),
      );
      end();
      metrics.batchSize.observe(changes.length);
      metrics.stale.inc(outcome.stale);
      for (const a of outcome.applied) metrics.rows.inc({ schema: a.schema, op: a.op }, a.count);
      const now = Date.now();
      const synced = new Map<string, string[]>();
      for (const c of changes) {
        metrics.messages.inc({ source: c.source });
        metrics.lagSeconds.observe({ source: c.source }, Math.max(0, (now - Date.parse(c.recordedAt)) / 1000));
        const list = synced.get(c.source);
        if (list) list.push(c.seq);
        else synced.set(c.source, [c.seq]);
      }
      // After the cloud commit: a lost ack makes the batch come again, which the watermarks turn into a no-op.
      await acknowledge(synced, new Map());
    },
    async onDeadLetter(message, reason) {
      const change = message?.envelope.payload;
      metrics.deadLettered.inc({ source: change?.source ?? 'unreadable' });
      logger.warn(
        { event: 'sync.dead_lettered', source: change?.source, seq: change?.seq, reason },
        options.quarantine ? 'change quarantined' : 'change dead-lettered',
      );
      if (change) await acknowledge(new Map(), new Map([[change.source, [change.seq]]]));
    },
  });
}
