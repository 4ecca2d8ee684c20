import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '@cap/platform-logger';
import type { Pool } from '@cap/platform-postgres';
import { readStagingStatus, type SourceStatus } from './staging.status';
import type { StagingSource } from './staging.sources';

/** Staging status as Prometheus gauges, read from the database at each scrape. */
export function registerStagingMetrics(registry: Registry, pool: Pool, sources: StagingSource[], logger: Logger): void {
  const labels = ['source', 'schema'] as const;
  // The registry reads every metric at once: they share one database read per scrape.
  let snapshot: { at: number; status: Promise<SourceStatus[] | undefined> } | undefined;
  const read = () => {
    if (!snapshot || Date.now() - snapshot.at > 250) {
      snapshot = {
        at: Date.now(),
        status: readStagingStatus(pool, sources).catch((err: unknown) => {
          logger.warn({ event: 'staging.status_failed', err: { message: (err as Error).message } }, 'staging status unavailable for /metrics');
          return undefined;
        }),
      };
    }
    return snapshot.status;
  };
  const gauge = (name: string, help: string, value: (s: SourceStatus) => number) =>
    new Gauge({
      name,
      help,
      labelNames: labels,
      registers: [registry],
      async collect() {
        for (const st of (await read()) ?? []) this.set({ source: st.source, schema: st.schema }, value(st));
      },
    });
  gauge('cap_staging_pending_rows', 'Staged rows not yet applied to the cloud DB', (s) => s.pending);
  gauge('cap_staging_oldest_pending_seconds', 'Age of the oldest staged row not yet applied (the sync lag)', (s) => s.oldestPendingSeconds);
  gauge('cap_staging_last_synced_seq', 'Highest staging sequence acknowledged by staging-sync', (s) => Number(s.lastSyncedSeq));
  gauge('cap_staging_dead_lettered_rows', 'Staged rows staging-sync sent to the dead-letter topic', (s) => s.deadLettered);
  new Gauge({
    name: 'cap_staging_status_scrape_ok',
    help: '1 when the staging status could be read at the last scrape',
    registers: [registry],
    async collect() {
      this.set((await read()) ? 1 : 0);
    },
  });
}
