import type { Schema } from '@cap/campaign-schema';

/** A local table of staged changes waiting for the cloud DB. */
export interface StagingSource {
  /** The name staging-sync acknowledges (the staging schema id, or SUBSCRIPTION_REQUESTS). */
  source: string;
  /** The cloud schema the changes go to. */
  target: string;
  table: string;
  seq: string;
  stagedAt: string;
  syncedAt: string;
}

/** Subscribe / Unsubscribe requests (nms:subscription), staged in their own table. */
export const SUBSCRIPTION_REQUESTS = 'cap_subscription_request';

export function stagingSources(schemas: ReadonlyMap<string, Schema>): StagingSource[] {
  const out: StagingSource[] = [];
  for (const schema of schemas.values()) {
    if (schema.placement !== 'staging' || !schema.stagingOf || !schema.databases.includes('local')) continue;
    out.push({ source: schema.id, target: schema.stagingOf, table: schema.table, seq: 'cap_seq', stagedAt: 'cap_staged_at', syncedAt: 'cap_synced_at' });
  }
  out.push({
    source: SUBSCRIPTION_REQUESTS,
    target: 'nms:subscription',
    table: SUBSCRIPTION_REQUESTS,
    seq: 'seq',
    stagedAt: 'staged_at',
    syncedAt: 'synced_at',
  });
  return out.sort((a, b) => a.source.localeCompare(b.source));
}

/**
 * The sources a StartReplicateStagingData argument names: a staged cloud schema (nms:recipient), its
 * staging schema (nms:recipientStg), or nms:subscription (its staging schema and the Subscribe requests).
 */
export function sourcesFor(name: string, sources: StagingSource[]): StagingSource[] {
  return sources.filter((s) => s.source === name || s.target === name);
}
