import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Database, Schema } from '@cap/campaign-schema';
import { createWriteCommitter, type GroupCommitOptions } from '@cap/campaign-postgres';
import {
  checkWriteAccess,
  compileWritePlan,
  needsWriteRights,
  planWrite,
  schemasWritten,
  WriteError,
  type RecordPlan,
  type WriteCaller,
  type WriteMode,
} from '@cap/campaign-write';
import { parseXml, XmlParseError, type XmlElement } from '@cap/campaign-xml';
import { appError, appErrorOf, ErrorCatalogue, errors, type AppError } from '@cap/platform-errors';
import type { RpcHandler } from '@cap/platform-kafka';
import { classifyPgError, type Pool } from '@cap/platform-postgres';

const writeParams = z.object({
  mode: z.enum(['write', 'writeCollection', 'ingest', 'ingestExt']),
  /** The document as the client sent it (serialised XML). */
  doc: z
    .string()
    .min(1)
    .max(16 * 1024 * 1024),
  operatorId: z.string().max(64).optional(),
  /** The operator's login and rights as the gateway resolved them (used where operators are not stored). */
  operatorLogin: z.string().max(128).optional(),
  operatorRights: z.array(z.string().max(64)).max(256).optional(),
});

/** Who a data request says it runs for: the operator id, login and rights the gateway resolved, if any. */
/**
 * The record plans of a write document, refused (NOT_WRITABLE) when a record's schema is not stored in the database
 * this service owns: the gateway routes by schema, so such a request was misrouted. Shared by Write and packages.
 */
export function planWriteHere(
  doc: XmlElement,
  mode: WriteMode,
  deps: { schemas: ReadonlyMap<string, Schema>; database: Database },
  operatorId?: string,
): RecordPlan[] {
  const plans = planWrite(doc, deps.schemas, { mode, now: new Date(), newId: randomUUID, ...(operatorId ? { operatorId } : {}) });
  for (const plan of plans) {
    if (!plan.schema.databases.includes(deps.database)) {
      throw new WriteError(ErrorCatalogue.NOT_WRITABLE, `${plan.schema.id} is not stored in the ${deps.database} database this request reached`, {
        schema: plan.schema.id,
      });
    }
  }
  return plans;
}

export interface ClaimedCaller {
  operatorId?: string | undefined;
  operatorLogin?: string | undefined;
  operatorRights?: string[] | undefined;
}

/**
 * The rights a write is checked against. local-store reads them from its own database by operator id (where
 * operators are kept: a rights change applies to the very next write, whatever the request claims); a service
 * that keeps no operators takes the rights the gateway resolved for the authenticated caller. No operator (a
 * workflow, a system task): no rights.
 */
export type OperatorRightsLookup = (claimed: ClaimedCaller) => Promise<WriteCaller>;

/** The rights the request carries, as the gateway resolved them for its authenticated operator. */
export const CLAIMED_RIGHTS: OperatorRightsLookup = async (claimed) => ({
  rights: claimed.operatorId ? (claimed.operatorRights ?? []) : [],
  ...(claimed.operatorLogin ? { login: claimed.operatorLogin } : {}),
});

export interface WriteResult {
  /** UUIDs generated for inserted records (Ingest returns them), in document order. */
  generatedIds: string[];
  inserted: number;
  updated: number;
  deleted: number;
}

/**
 * `data.write`: Write, WriteCollection, Ingest and IngestExt for the schemas whose tables are in this
 * service's database. The whole document is validated and planned first, then applied in ONE transaction:
 * a bad record anywhere means nothing is written.
 */
export function createWriteHandler(deps: {
  pool: Pool;
  schemas: ReadonlyMap<string, Schema>;
  database: Database;
  groupCommit?: GroupCommitOptions;
  /** Rights of the calling operator, asked only when a written schema restricts writes (default: as claimed). */
  operatorRights?: OperatorRightsLookup;
}): RpcHandler {
  const committer = createWriteCommitter(deps.pool, deps.groupCommit ?? { maxBatch: 1, maxConcurrent: 1 });
  const operatorRights = deps.operatorRights ?? CLAIMED_RIGHTS;
  return async (params, ctx) => {
    const p = writeParams.safeParse(params);
    if (!p.success) throw errors.invalidRequest('data.write parameters', p.error.issues[0]?.message ?? 'rejected');
    let steps;
    let plans;
    try {
      plans = planWriteHere(parseXml(p.data.doc), p.data.mode as WriteMode, deps, p.data.operatorId);
      steps = compileWritePlan(plans);
    } catch (err) {
      if (err instanceof WriteError) throw appErrorOf(err);
      if (err instanceof XmlParseError) throw appError(ErrorCatalogue.SOAP_MALFORMED, { what: 'document', why: err.message });
      throw err;
    }
    // Every record and every linked record it creates or updates, by the schema it really writes.
    const written = schemasWritten(plans);
    if (needsWriteRights(written)) {
      try {
        checkWriteAccess(written, await operatorRights(p.data));
      } catch (err) {
        if (err instanceof WriteError) throw appErrorOf(err);
        throw err;
      }
    }
    try {
      const counts = await committer.commit(steps, ctx?.deadline);
      return { generatedIds: plans.flatMap((pl) => (pl.generatedId ? [pl.generatedId] : [])), ...counts } satisfies WriteResult;
    } catch (err) {
      if (err instanceof WriteError) throw appErrorOf(err);
      throw err;
    }
  };
}

/**
 * A database error caused by the request itself (SQLSTATE classes 22 data, 23 integrity, 42 syntax/rules)
 * becomes a non-retriable DATABASE_REFUSED fault, so it never counts against the service's circuit breaker; any
 * other error (connection lost…) is rethrown as it is.
 */
export function requestCausedDatabaseError(err: unknown): AppError | undefined {
  const verdict = classifyPgError(err);
  if (!verdict.requestCaused) return undefined;
  return appError(
    ErrorCatalogue.DATABASE_REFUSED,
    { detail: `The database refused the request: ${verdict.publicMessage}` },
    { privateDetail: verdict.privateDetail },
  );
}
