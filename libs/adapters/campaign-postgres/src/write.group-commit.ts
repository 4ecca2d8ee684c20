import { appError, ErrorCatalogue, type AppError } from '@cap/platform-errors';
import { classifyPgError, createGroupCommitQueue, withTransaction, type Pool, type PoolClient } from '@cap/platform-postgres';
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

/**
 * Group commit for unitary writes (Ingest, IngestExt, Write of one record), on the platform's group-commit
 * queue (createGroupCommitQueue): writes that arrive while `maxConcurrent` transactions run are applied
 * together in ONE transaction. A shared transaction that fails is replayed write by write when it certainly
 * committed nothing (see `rolledBack`), so the faulty write gets its own error and the others land; a lost
 * connection fails them all, as it would have failed a lone write. A write is acknowledged only after the
 * COMMIT that holds it.
 */
export function createWriteCommitter(pool: Pool, options: GroupCommitOptions): WriteCommitter {
  const maxSteps = options.maxStepsPerWrite ?? 8;
  const alone = (steps: WriteStep[]) => withTransaction(pool, (client) => executeWriteSteps(client, steps));
  const queue = createGroupCommitQueue<WriteStep[], WriteCounts>({
    maxBatch: options.maxBatch,
    maxConcurrent: options.maxConcurrent,
    alone,
    together: (writes) => withTransaction(pool, (client: PoolClient) => applyGroup(client, writes)),
    rolledBack: writeRolledBack,
    expired: deadlinePassed,
  });
  return {
    commit(steps, deadline) {
      if (steps.length > maxSteps) return alone(steps);
      return queue.run(steps, deadline);
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
export function writeRolledBack(err: unknown): boolean {
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
