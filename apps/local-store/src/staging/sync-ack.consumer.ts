import { TOPICS } from '@cap/contracts';
import { errors } from '@cap/platform-errors';
import { runConsumer, type ConsumerRunner, type Messaging, type QuarantineOptions } from '@cap/platform-kafka';
import { classifyPgError, withTransaction, type Pool } from '@cap/platform-postgres';
import type { StagingSource } from './staging.sources';

/** Its consumer group, and its name in the quarantine. */
export const SYNC_ACK_CONSUMER = 'local-store-staging-acks';

/**
 * Applies staging-sync's acknowledgements: the staged rows it applied to the cloud DB (or dead-lettered)
 * are marked synced, and the per-source status (last sequence, totals, dead letters) is updated. Replays
 * are harmless: rows already marked keep their first time, and totals count rows newly marked only.
 */
export async function startSyncAckConsumer(deps: {
  pool: Pool;
  messaging: Messaging;
  sources: StagingSource[];
  quarantine?: QuarantineOptions;
}): Promise<ConsumerRunner> {
  const bySource = new Map(deps.sources.map((s) => [s.source, s]));
  return runConsumer(deps.messaging, {
    groupId: SYNC_ACK_CONSUMER,
    ...(deps.quarantine ? { quarantine: deps.quarantine } : {}),
    topic: TOPICS.stagingSynced,
    fromBeginning: true,
    async handle(message) {
      const ack = message.envelope.payload;
      const source = bySource.get(ack.source);
      if (!source) return; // a source this deployment no longer has
      const seqs = [...ack.synced, ...ack.deadLettered];
      if (seqs.length === 0) return;
      try {
        await withTransaction(deps.pool, async (client) => {
          const marked = await client.query(
            `UPDATE "${source.table}" SET "${source.syncedAt}" = now() WHERE "${source.seq}" = ANY($1::bigint[]) AND "${source.syncedAt}" IS NULL`,
            [seqs],
          );
          const maxSeq = seqs.reduce((m, s) => (BigInt(s) > m ? BigInt(s) : m), 0n);
          const deadNew = ack.deadLettered.length === 0 ? 0 : Math.min(ack.deadLettered.length, marked.rowCount ?? 0);
          await client.query(
            `INSERT INTO cap_sync_status (source, last_synced_seq, last_synced_at, synced_total, dead_lettered) VALUES ($1, $2, now(), $3, $4)
             ON CONFLICT (source) DO UPDATE SET last_synced_seq = GREATEST(cap_sync_status.last_synced_seq, EXCLUDED.last_synced_seq),
               last_synced_at = now(), synced_total = cap_sync_status.synced_total + EXCLUDED.synced_total,
               dead_lettered = cap_sync_status.dead_lettered + EXCLUDED.dead_lettered`,
            [ack.source, maxSeq.toString(), (marked.rowCount ?? 0) - deadNew, deadNew],
          );
        });
      } catch (err) {
        // A refusal of the data itself will not get better: quarantined. Anything else (a connection dropped by a
        // database restart) is retried, like every consumer's database outage: never quarantined for it.
        if (classifyPgError(err).requestCaused) throw errors.invalidMessage(TOPICS.stagingSynced.name, (err as Error).message);
        throw errors.serviceUnavailable('local database', (err as Error).message);
      }
    },
  });
}
