import { z } from 'zod';
import { compileQueryDef, isQueryError, shapeRows } from '@cap/campaign-query';
import type { Database, Schema } from '@cap/campaign-schema';
import { parseXml, XmlParseError, type XmlElement } from '@cap/campaign-xml';
import { errors } from '@cap/platform-errors';
import type { RpcHandler } from '@cap/platform-kafka';
import type { Pool } from '@cap/platform-postgres';
import { campaignError, requestCausedDatabaseError } from './data-write.handler';

const queryParams = z.object({
  /** The <queryDef> as the client sent it (serialised XML). */
  queryDef: z.string().min(1).max(1024 * 1024),
  /** `execute` runs it; `sql` only compiles it (BuildQuery). */
  action: z.enum(['execute', 'sql']).default('execute'),
});

export interface QueryLimits {
  defaultLineCount: number;
  maxLineCount: number;
}

/**
 * `data.query`: xtk:queryDef#ExecuteQuery (and BuildQuery) on the schemas whose tables are in this service's
 * database. The queryDef compiles to one parameterised statement; rows come back shaped as Campaign's result
 * document (an element tree, serialised by the gateway).
 */
export function createQueryHandler(deps: { pool: Pool; schemas: ReadonlyMap<string, Schema>; database: Database; limits: QueryLimits }): RpcHandler {
  return async (params): Promise<XmlElement | { sql: string }> => {
    const p = queryParams.safeParse(params);
    if (!p.success) throw errors.invalidRequest('data.query parameters', p.error.issues[0]?.message ?? 'rejected');
    let compiled;
    try {
      compiled = compileQueryDef(parseXml(p.data.queryDef), deps.schemas, {
        database: deps.database,
        defaultLineCount: deps.limits.defaultLineCount,
        maxLineCount: deps.limits.maxLineCount,
      });
    } catch (err) {
      if (isQueryError(err)) throw campaignError(err.code, err.message, err.soapFaultCode);
      if (err instanceof XmlParseError) throw campaignError('SOP-330001', `Malformed queryDef: ${err.message}`);
      throw err;
    }
    if (p.data.action === 'sql') return { sql: compiled.sql };
    let rows: Record<string, unknown>[];
    try {
      rows = (await deps.pool.query(compiled.sql, compiled.params)).rows;
    } catch (err) {
      throw requestCausedDatabaseError(err) ?? err;
    }
    try {
      return shapeRows(compiled.shape, rows);
    } catch (err) {
      if (isQueryError(err)) throw campaignError(err.code, err.message, err.soapFaultCode);
      throw err;
    }
  };
}
