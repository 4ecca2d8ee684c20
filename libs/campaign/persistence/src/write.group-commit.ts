import type { WriteStep } from '@cap/campaign-write';
import { withTransaction, type Pool, type PoolClient } from '@cap/platform-postgres';
import { executeWriteSteps } from './write.executor';

export type WriteCounts = { inserted: number; updated: number; deleted: number };

export interface GroupCommitOptions {
  /** Most writes committed together (1 turns group commit off: every write has its own transaction). */
  maxBatch: number;
  /** Transactions running at once; writes arriving meanwhile wait and go together in the next one. */
  maxConcurrent: number;
  /** Writes with more steps than this (big documents) always get a transaction of their own. */
  maxStepsPerWrite?: number;
}

export interface WriteCommitter {
  /** Applies one write's steps atomically; resolves once they are committed. */
  commit(steps: WriteStep[]): Promise<WriteCounts>;
}

interface Queued {
  steps: WriteStep[];
  resolve(counts: WriteCounts): void;
  reject(err: unknown): void;
}

/**
 * Group commit for unitary writes (Ingest, IngestExt, Write of one record): while `maxConcurrent`
 * transactions are running, the writes that arrive wait and are then applied together in ONE transaction —
 * one BEGIN, one COMMIT and one WAL flush for all of them instead of one each. A lone write (a quiet
 * system) runs at once, so nothing waits for a batch to fill.
 *
 * Each write stays atomic and independent: if the shared transaction fails (one write breaks a constraint,
 * a deadlock…), nothing of it is committed and every write of the group is applied again in a transaction
 * of its own, so the faulty one gets its own error and the others land. A write is acknowledged only after
 * the COMMIT that holds it.
 */
export function createWriteCommitter(pool: Pool, options: GroupCommitOptions): WriteCommitter {
  const queue: Queued[] = [];
  let running = 0;
  const maxSteps = options.maxStepsPerWrite ?? 8;
  const alone = (steps: WriteStep[]) => withTransaction(pool, (client) => executeWriteSteps(client, steps));

  const runGroup = async (group: Queued[]) => {
    if (group.length === 1) {
      const [only] = group;
      await alone(only!.steps).then(only!.resolve, only!.reject);
      return;
    }
    let counts: WriteCounts[];
    try {
      counts = await withTransaction(pool, async (client: PoolClient) => {
        const out: WriteCounts[] = [];
        for (const item of group) out.push(await executeWriteSteps(client, item.steps));
        return out;
      });
    } catch {
      // Nothing of the group was committed: each write again, on its own, for its own outcome.
      await Promise.all(group.map((item) => alone(item.steps).then(item.resolve, item.reject)));
      return;
    }
    group.forEach((item, i) => item.resolve(counts[i]!));
  };

  const pump = () => {
    while (running < options.maxConcurrent && queue.length > 0) {
      const group = queue.splice(0, Math.max(1, options.maxBatch));
      running++;
      void runGroup(group).finally(() => {
        running--;
        pump();
      });
    }
  };

  return {
    commit(steps) {
      if (options.maxBatch <= 1 || steps.length > maxSteps) return alone(steps);
      return new Promise<WriteCounts>((resolve, reject) => {
        queue.push({ steps, resolve, reject });
        pump();
      });
    },
  };
}
