import { WRITE_ERRORS, WriteError, type WriteStep } from '@cap/campaign-write';

/** The part of a pg client the executor needs (a PoolClient inside a transaction). */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<{ rowCount: number | null }>;
}

/** A database error while applying a write, in Campaign's form (`PGS-220000 PostgreSQL error: …`). */
export class DatabaseWriteError extends WriteError {
  constructor(
    message: string,
    readonly sqlState: string | undefined,
  ) {
    super('PGS-220000', `PostgreSQL error: ${message}`);
  }
}

/**
 * Runs compiled write steps in order on one client. The caller owns the transaction (withTransaction), so
 * a failing step — a missing link target, a constraint violation — leaves nothing half-written.
 */
export async function executeWriteSteps(client: Queryable, steps: WriteStep[]): Promise<{ inserted: number; updated: number; deleted: number }> {
  const counts = { inserted: 0, updated: 0, deleted: 0 };
  for (const step of steps) {
    try {
      if (step.kind === 'exec') {
        const r = await client.query(step.statement.sql, step.statement.params);
        if (step.requireRow && !r.rowCount) throw new WriteError(WRITE_ERRORS.linkNotFound, step.requireRow.replace(/^XTK-\d+ /, ''));
        if (step.statement.sql.startsWith('INSERT')) counts.inserted += r.rowCount ?? 0;
        else if (step.statement.sql.startsWith('UPDATE')) counts.updated += r.rowCount ?? 0;
        else if (step.statement.sql.startsWith('DELETE')) counts.deleted += r.rowCount ?? 0;
      } else {
        const updated = await client.query(step.update.sql, step.update.params);
        if (updated.rowCount) counts.updated += updated.rowCount;
        else counts.inserted += (await client.query(step.insert.sql, step.insert.params)).rowCount ?? 0;
      }
    } catch (err) {
      if (err instanceof WriteError) throw err;
      const pgErr = err as { message?: string; code?: string; detail?: string };
      throw new DatabaseWriteError(`${pgErr.message ?? String(err)}${pgErr.detail ? ` (${pgErr.detail})` : ''}`, pgErr.code);
    }
  }
  return counts;
}
