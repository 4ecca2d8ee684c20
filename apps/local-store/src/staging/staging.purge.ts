import type { Logger } from '@cap/platform-logger';
import type { Pool } from '@cap/platform-postgres';
import { startPollingWorker, type PollingWorker } from '@cap/platform-runtime';
import type { StagingSource } from './staging.sources';

/**
 * Deletes staged rows synced longer than `retentionMs` ago (Campaign's Database cleanup workflow does this
 * for staging tables). Unsynced rows are never deleted, whatever their age.
 */
export function startStagingPurge(deps: { pool: Pool; sources: StagingSource[]; retentionMs: number; intervalMs: number; logger: Logger }): PollingWorker {
  return startPollingWorker({
    name: 'staging-purge',
    intervalMs: deps.intervalMs,
    round: async () => {
      for (const s of deps.sources) {
        const r = await deps.pool.query(`DELETE FROM "${s.table}" WHERE "${s.syncedAt}" < now() - make_interval(secs => $1)`, [deps.retentionMs / 1000]);
        if (r.rowCount) deps.logger.info({ event: 'staging.purged', source: s.source, rows: r.rowCount }, 'synced staging rows purged');
      }
    },
    onError: (err) => deps.logger.warn({ event: 'staging.purge_failed', err: { message: (err as Error).message } }, 'staging purge failed; will retry'),
  });
}
