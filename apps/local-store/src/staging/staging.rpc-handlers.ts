import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { appError, ErrorCatalogue, errors } from '@cap/platform-errors';
import type { RpcHandler } from '@cap/platform-kafka';
import type { Pool } from '@cap/platform-postgres';
import type { OutboxRelay } from './outbox.relay';
import { readStagingStatus } from './staging.status';
import { sourcesFor, type StagingSource } from './staging.sources';

/** How long before its caller's deadline a flush stops waiting and answers. */
const FLUSH_REPLY_MARGIN_MS = 500;

const flushParams = z.object({ schema: z.string().min(1).max(128), waitMs: z.number().int().min(0).max(30_000).optional() });
const statusParams = z
  .object({ schema: z.string().min(1).max(128).optional() })
  .nullable()
  .optional();

/**
 * `staging.flush` (nms:replicationStrategy#StartReplicateStagingData): relays the schema's staged rows now
 * and waits — up to `waitMs` — until staging-sync has acknowledged every row staged before the call.
 * `staging.status`: per-source pending rows, oldest pending age, last synced sequence, dead letters.
 */
export function createStagingRpcHandlers(deps: {
  pool: Pool;
  sources: StagingSource[];
  relay: Pick<OutboxRelay, 'wake'>;
  flushWaitMs: number;
}): Record<string, RpcHandler> {
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
        sources.map(async (s) => ({
          s,
          max: (await deps.pool.query<{ max: string | null }>(`SELECT max("${s.seq}")::text AS max FROM "${s.table}"`)).rows[0]!.max,
        })),
      );
      deps.relay.wake();
      // It answers before its caller stops waiting (with `flushed: false` if rows are still pending): a reply that
      // comes too late is a timeout for the caller, counted against local-store by its circuit breaker.
      const deadline = Math.min(Date.now() + (p.data.waitMs ?? deps.flushWaitMs), (ctx?.deadline ?? Infinity) - FLUSH_REPLY_MARGIN_MS);
      let pending = 0;
      for (;;) {
        pending = 0;
        for (const { s, max } of marks) {
          if (max === null) continue;
          const r = await deps.pool.query<{ n: string }>(`SELECT count(*)::bigint AS n FROM "${s.table}" WHERE "${s.syncedAt}" IS NULL AND "${s.seq}" <= $1`, [
            max,
          ]);
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
