import type { Pool } from '@cap/platform-postgres';
import type { StagingSource } from './staging.sources';

export interface SourceStatus {
  source: string;
  schema: string;
  /** Staged rows not yet acknowledged by staging-sync. */
  pending: number;
  /** Age of the oldest pending row, in seconds (0 when none). */
  oldestPendingSeconds: number;
  lastSyncedSeq: string;
  lastSyncedAt: string | null;
  syncedTotal: number;
  deadLettered: number;
}

/** Pending rows and sync progress, per staging source (RPC `staging.status`, /metrics, mcPing). */
export async function readStagingStatus(pool: Pool, sources: StagingSource[]): Promise<SourceStatus[]> {
  if (sources.length === 0) return [];
  const parts = sources.map(
    (s, i) =>
      `SELECT $${i + 1}::text AS source, count(*)::bigint AS pending, COALESCE(EXTRACT(EPOCH FROM now() - min("${s.stagedAt}")), 0)::float8 AS oldest
       FROM "${s.table}" WHERE "${s.syncedAt}" IS NULL`,
  );
  const { rows } = await pool.query<{
    source: string;
    pending: string;
    oldest: number;
    last_synced_seq: string | null;
    last_synced_at: Date | null;
    synced_total: string | null;
    dead_lettered: string | null;
  }>(
    `SELECT p.source, p.pending, p.oldest, st.last_synced_seq, st.last_synced_at, st.synced_total, st.dead_lettered
     FROM (${parts.join(' UNION ALL ')}) p LEFT JOIN cap_sync_status st ON st.source = p.source`,
    sources.map((s) => s.source),
  );
  const bySource = new Map(rows.map((r) => [r.source, r]));
  return sources.map((s) => {
    const r = bySource.get(s.source)!;
    return {
      source: s.source,
      schema: s.target,
      pending: Number(r.pending),
      oldestPendingSeconds: Math.round(r.oldest * 1000) / 1000,
      lastSyncedSeq: r.last_synced_seq ?? '0',
      lastSyncedAt: r.last_synced_at ? r.last_synced_at.toISOString() : null,
      syncedTotal: Number(r.synced_total ?? 0),
      deadLettered: Number(r.dead_lettered ?? 0),
    };
  });
}
