import { appError, ErrorCatalogue, type AppError } from '@cap/platform-errors';
import { classifyPgError, withTransaction, type Pool, type PoolClient } from '@cap/platform-postgres';
import { WriteError, type SqlStatement, type WriteStep } from '@cap/campaign-write';
import { DatabaseWriteError, executeWriteSteps } from './write.executor';

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
  /**
   * Applies one write's steps atomically; resolves once they are committed. A write still waiting for its
   * group when `deadline` (epoch ms: when its caller stops waiting) has passed is not applied at all.
   */
  commit(steps: WriteStep[], deadline?: number): Promise<WriteCounts>;
}

interface Queued {
  steps: WriteStep[];
  deadline: number | undefined;
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

  const runGroup = async (waited: Queued[]) => {
    // A caller that has stopped waiting was told its call timed out: applying its write now would make a
    // write it believes failed. Dropped before its transaction begins, it is not half-anything.
    const now = Date.now();
    const group = waited.filter((item) => {
      if (item.deadline === undefined || item.deadline > now) return true;
      item.reject(deadlinePassed());
      return false;
    });
    if (group.length === 0) return;
    if (group.length === 1) {
      const [only] = group;
      await alone(only!.steps).then(only!.resolve, only!.reject);
      return;
    }
    let counts: WriteCounts[];
    try {
      counts = await withTransaction(pool, (client: PoolClient) =>
        applyGroup(
          client,
          group.map((item) => item.steps),
        ),
      );
    } catch (err) {
      if (!rolledBack(err)) {
        // A lost connection (perhaps during COMMIT): whether the group was committed is unknown, so nothing is
        // replayed — every write of it fails as a lone write would have.
        for (const item of group) item.reject(err);
        return;
      }
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
    commit(steps, deadline) {
      if (options.maxBatch <= 1 || steps.length > maxSteps) return alone(steps);
      return new Promise<WriteCounts>((resolve, reject) => {
        queue.push({ steps, deadline, resolve, reject });
        pump();
      });
    },
  };
}

function deadlinePassed(): AppError {
  return appError(ErrorCatalogue.RPC_TIMEOUT, { detail: 'The write was not applied: its caller stopped waiting before its turn came' });
}

/**
 * True when a failed group certainly committed nothing: a write refused by the planner or by the database for
 * its data (SQLSTATE 22 data, 23 integrity, 42 rules) or a transaction the server aborted (40: deadlock,
 * serialization). A connection lost mid-way (no SQLSTATE, 08, 57) leaves the COMMIT's fate unknown.
 */
function rolledBack(err: unknown): boolean {
  if (err instanceof WriteError && !(err instanceof DatabaseWriteError)) return true;
  const verdict = classifyPgError(err instanceof DatabaseWriteError ? { code: err.sqlState } : err);
  return verdict.requestCaused || verdict.rolledBack;
}

/** Rows one merged INSERT carries at most (PostgreSQL takes up to 65,535 parameters per statement). */
const MAX_MERGED_ROWS = 500;
const MAX_PARAMS = 65_535;
/** A one-row `INSERT INTO "t" (…) VALUES (…)` whose values are bound parameters, casts and sub-selects (never literals). */
const SINGLE_ROW_INSERT = /^INSERT INTO "[A-Za-z0-9_]+" \([^)]*\) VALUES (\((?:[^']*)\))$/;

/**
 * Applies a group's writes in the caller's transaction. Writes that are one plain one-row INSERT each (an
 * Ingest of one record) are merged by statement text into multi-row INSERTs — one round trip, one plan,
 * for the lot — in the order they came; the others run step by step. Returns each write's counts.
 */
export async function applyGroup(client: PoolClient, writes: WriteStep[][]): Promise<WriteCounts[]> {
  const counts: WriteCounts[] = writes.map(() => ({ inserted: 0, updated: 0, deleted: 0 }));
  // Statement text → the writes (index and parameters) that are that one-row INSERT.
  const mergeable = new Map<string, { index: number; params: SqlStatement['params'] }[]>();
  for (let i = 0; i < writes.length; i++) {
    const steps = writes[i]!;
    const only = steps.length === 1 ? steps[0]! : undefined;
    if (only?.kind === 'exec' && !only.requireRow && SINGLE_ROW_INSERT.test(only.statement.sql)) {
      const rows = mergeable.get(only.statement.sql) ?? [];
      rows.push({ index: i, params: only.statement.params });
      mergeable.set(only.statement.sql, rows);
    } else {
      counts[i] = await executeWriteSteps(client, steps);
    }
  }
  for (const [sql, rows] of mergeable) {
    const chunk = Math.max(1, Math.min(MAX_MERGED_ROWS, Math.floor(MAX_PARAMS / Math.max(1, rows[0]!.params.length))));
    for (let from = 0; from < rows.length; from += chunk) {
      const part = rows.slice(from, from + chunk);
      const statement =
        part.length === 1
          ? { sql, params: part[0]!.params }
          : mergeInserts(
              sql,
              part.map((r) => r.params),
            );
      await executeWriteSteps(client, [{ kind: 'exec', schema: '', statement }]);
      for (const r of part) counts[r.index]!.inserted += 1;
    }
  }
  return counts;
}

/** One INSERT of many rows from one-row INSERTs of the same text: each row's `$n` moved past the rows before it. */
export function mergeInserts(sql: string, rows: SqlStatement['params'][]): SqlStatement {
  const match = SINGLE_ROW_INSERT.exec(sql);
  if (!match) throw new Error('not a one-row INSERT … VALUES (…)');
  const tuple = match[1]!;
  const head = sql.slice(0, sql.length - tuple.length);
  const params: SqlStatement['params'] = [];
  const tuples = rows.map((row) => {
    const offset = params.length;
    params.push(...row);
    return tuple.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);
  });
  return { sql: head + tuples.join(', '), params };
}
