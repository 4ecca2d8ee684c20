import { setTimeout as sleep } from 'node:timers/promises';
import { Gauge, type Registry } from 'prom-client';
import { z } from 'zod';
import { appError, ErrorCatalogue, errors } from '@cap/platform-errors';
import type { RpcHandler } from '@cap/platform-kafka';
import type { Logger } from '@cap/platform-logger';
import type { Pool } from '@cap/platform-postgres';
import { startPollingWorker, type PollingWorker } from '@cap/platform-runtime';
import { sourcesFor, type StagingSource } from './staging.sources';

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
  const { rows } = await pool.query<{ source: string; pending: string; oldest: number; last_synced_seq: string | null; last_synced_at: Date | null; synced_total: string | null; dead_lettered: string | null }>(
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

/** How long before its caller's deadline a flush stops waiting and answers. */
const FLUSH_REPLY_MARGIN_MS = 500;

const flushParams = z.object({ schema: z.string().min(1).max(128), waitMs: z.number().int().min(0).max(30_000).optional() });
const statusParams = z.object({ schema: z.string().min(1).max(128).optional() }).nullable().optional();

/**
 * `staging.flush` (nms:replicationStrategy#StartReplicateStagingData): relays the schema's staged rows now
 * and waits — up to `waitMs` — until staging-sync has acknowledged every row staged before the call.
 * `staging.status`: per-source pending rows, oldest pending age, last synced sequence, dead letters.
 */
export function createStagingHandlers(deps: { pool: Pool; sources: StagingSource[]; wakeRelay: () => void; flushWaitMs: number }): Record<string, RpcHandler> {
  return {
    'staging.flush': async (params, ctx) => {
      const p = flushParams.safeParse(params);
      if (!p.success) throw errors.invalidRequest('staging.flush parameters', p.error.issues[0]?.message ?? 'rejected');
      const sources = sourcesFor(p.data.schema, deps.sources);
      if (sources.length === 0) {
        const known = [...new Set(deps.sources.map((s) => s.target))].join(', ');
        throw appError(ErrorCatalogue.NOT_STAGED, { detail: `'${p.data.schema}' is not a staged schema: nothing to replicate (staged schemas: ${known})` });
      }
      const marks = await Promise.all(
        sources.map(async (s) => ({ s, max: (await deps.pool.query<{ max: string | null }>(`SELECT max("${s.seq}")::text AS max FROM "${s.table}"`)).rows[0]!.max })),
      );
      deps.wakeRelay();
      // It answers before its caller stops waiting (with `flushed: false` if rows are still pending): a reply that
      // comes too late is a timeout for the caller, counted against local-store by its circuit breaker.
      const deadline = Math.min(Date.now() + (p.data.waitMs ?? deps.flushWaitMs), (ctx?.deadline ?? Infinity) - FLUSH_REPLY_MARGIN_MS);
      let pending = 0;
      for (;;) {
        pending = 0;
        for (const { s, max } of marks) {
          if (max === null) continue;
          const r = await deps.pool.query<{ n: string }>(`SELECT count(*)::bigint AS n FROM "${s.table}" WHERE "${s.syncedAt}" IS NULL AND "${s.seq}" <= $1`, [max]);
          pending += Number(r.rows[0]!.n);
        }
        if (pending === 0 || Date.now() >= deadline) break;
        await sleep(50);
      }
      return { schema: p.data.schema, flushed: pending === 0, pending };
    },
    'staging.status': async (params) => {
      const p = statusParams.safeParse(params);
      if (!p.success) throw errors.invalidRequest('staging.status parameters', p.error.issues[0]?.message ?? 'rejected');
      const wanted = p.data?.schema ? sourcesFor(p.data.schema, deps.sources) : deps.sources;
      return { sources: await readStagingStatus(deps.pool, wanted) };
    },
  };
}

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
