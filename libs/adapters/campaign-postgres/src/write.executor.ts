import { WriteError, type WriteStep } from '@cap/campaign-write';
import { ErrorCatalogue } from '@cap/platform-errors';
import { classifyPgError } from '@cap/platform-postgres';

/** The part of a pg client the executor needs (a PoolClient inside a transaction). */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<{ rowCount: number | null }>;
}

/**
 * A database error while applying a write, in Campaign's form (DATABASE_REFUSED: `The database refused the write: …`):
 * the message says what kind of refusal it was; PostgreSQL's own text (constraint names, the failing row) is kept
 * apart in `privateDetail`, for the service's log.
 */
export class DatabaseWriteError extends WriteError {
  readonly privateDetail: string;

  constructor(
    publicMessage: string,
    readonly sqlState: string | undefined,
    privateDetail: string,
  ) {
    super(ErrorCatalogue.DATABASE_REFUSED, `The database refused the write: ${publicMessage}`);
    this.privateDetail = privateDetail;
  }

  static from(err: unknown): DatabaseWriteError {
    const verdict = classifyPgError(err);
    return new DatabaseWriteError(verdict.publicMessage, verdict.sqlState, verdict.privateDetail);
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
        if (step.requireRow && !r.rowCount)
          throw new WriteError(ErrorCatalogue.LINK_NOT_FOUND, step.requireRow.slice(`${ErrorCatalogue.LINK_NOT_FOUND.code} `.length));
        if (step.statement.sql.startsWith('INSERT')) counts.inserted += r.rowCount ?? 0;
        else if (step.statement.sql.startsWith('UPDATE')) counts.updated += r.rowCount ?? 0;
        else if (step.statement.sql.startsWith('DELETE')) counts.deleted += r.rowCount ?? 0;
      } else {
        counts[await updateElseInsert(client, step)] += 1;
      }
    } catch (err) {
      if (err instanceof WriteError) throw err;
      throw DatabaseWriteError.from(err);
    }
  }
  return counts;
}

/**
 * insertOrUpdate without a race: update by the key; when no row matched, insert — skipped, not failed, when a
 * concurrent writer inserted the same key meanwhile (`ON CONFLICT DO NOTHING`) — and then update the row that
 * writer committed. Only a conflict on another unique key (no row with this key, yet the insert was refused)
 * is an error.
 */
async function updateElseInsert(client: Queryable, step: Extract<WriteStep, { kind: 'updateElseInsert' }>): Promise<'updated' | 'inserted'> {
  if ((await client.query(step.update.sql, step.update.params)).rowCount) return 'updated';
  if ((await client.query(`${step.insert.sql} ON CONFLICT DO NOTHING`, step.insert.params)).rowCount) return 'inserted';
  if ((await client.query(step.update.sql, step.update.params)).rowCount) return 'updated';
  throw DatabaseWriteError.from({ code: '23505', message: `insert into ${step.schema} conflicts with an existing record on another key` });
}
