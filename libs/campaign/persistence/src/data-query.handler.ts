import { z } from 'zod';
import { compileQueryDef, createResultBuilder, createResultTextBuilder, isQueryError, shapeRows, type CompiledQuery, type ResultBuilder } from '@cap/campaign-query';
import type { Database, Schema } from '@cap/campaign-schema';
import { parseXml, serializeXml, XmlParseError, type XmlElement } from '@cap/campaign-xml';
import { errors } from '@cap/platform-errors';
import type { RpcHandler } from '@cap/platform-kafka';
import type { Pool, PoolClient } from '@cap/platform-postgres';
import { campaignError, requestCausedDatabaseError } from './data-write.handler';

const queryParams = z.object({
  /** The <queryDef> as the client sent it (serialised XML). */
  queryDef: z.string().min(1).max(1024 * 1024),
  /** `execute` runs it; `sql` only compiles it (BuildQuery). */
  action: z.enum(['execute', 'sql']).default('execute'),
  /**
   * `element`: the result document as an element tree. `text`: `{ xml }`, the document already serialised,
   * row by row as they are read (what the gateway asks for: it only writes the text into the SOAP response).
   */
  format: z.enum(['element', 'text']).default('element'),
});

/** The result of data.query with `format: 'text'`. */
export interface QueryTextResult {
  xml: string;
}

export interface QueryLimits {
  defaultLineCount: number;
  maxLineCount: number;
  /**
   * Rows a select reads per round trip from a server-side cursor (cloud-executor's batch queries): the process
   * then holds at most this many raw rows plus the result being built, however large the page. Absent: a
   * select is one plain statement (local-store's small unitary queries, one round trip).
   */
  cursorFetchRows?: number;
}

/**
 * Runs a compiled select through a server-side cursor in a read-only transaction, FETCHing `fetchRows` rows
 * at a time and shaping each chunk before reading the next one.
 */
async function executeThroughCursor<T>(pool: Pool, compiled: CompiledQuery, fetchRows: number, builder: ResultBuilder<T>): Promise<T> {
  const client: PoolClient = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN READ ONLY');
    try {
      await client.query(`DECLARE "cap_query" NO SCROLL CURSOR FOR ${compiled.sql}`, compiled.params);
      for (;;) {
        const chunk = await client.query<unknown[]>({ text: `FETCH FORWARD ${fetchRows} FROM "cap_query"`, rowMode: 'array' });
        builder.add(chunk.rows);
        if (chunk.rows.length < fetchRows) break;
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
        // The connection is unusable: destroy it rather than return it to the pool.
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      });
      throw err;
    }
  } finally {
    client.release(broken);
  }
  return builder.build();
}

/**
 * `data.query`: xtk:queryDef#ExecuteQuery (and BuildQuery) on the schemas whose tables are in this service's
 * database. The queryDef compiles to one parameterised statement; rows come back shaped as Campaign's result
 * document (an element tree, serialised by the gateway). With `limits.cursorFetchRows`, a select is read
 * through a server-side cursor chunk by chunk (bounded memory for pages up to QUERY_MAX_LINE_COUNT rows).
 */
export function createQueryHandler(deps: { pool: Pool; schemas: ReadonlyMap<string, Schema>; database: Database; limits: QueryLimits }): RpcHandler {
  return async (params): Promise<XmlElement | QueryTextResult | { sql: string }> => {
    const p = queryParams.safeParse(params);
    if (!p.success) throw errors.invalidRequest('data.query parameters', p.error.issues[0]?.message ?? 'rejected');
    let compiled;
    try {
      compiled = compileQueryDef(parseXml(p.data.queryDef), deps.schemas, {
        database: deps.database,
        defaultLineCount: deps.limits.defaultLineCount,
        maxLineCount: deps.limits.maxLineCount,
        orderPages: true,
      });
    } catch (err) {
      if (isQueryError(err)) throw campaignError(err.code, err.message, err.soapFaultCode);
      if (err instanceof XmlParseError) throw campaignError('SOP-330001', `Malformed queryDef: ${err.message}`);
      throw err;
    }
    if (p.data.action === 'sql') return { sql: compiled.sql };
    const fetchRows = deps.limits.cursorFetchRows;
    if (fetchRows !== undefined && compiled.shape.operation === 'select') {
      try {
        if (p.data.format === 'text') return { xml: await executeThroughCursor(deps.pool, compiled, fetchRows, createResultTextBuilder(compiled.shape)) };
        return await executeThroughCursor(deps.pool, compiled, fetchRows, createResultBuilder(compiled.shape));
      } catch (err) {
        if (isQueryError(err)) throw campaignError(err.code, err.message, err.soapFaultCode);
        throw requestCausedDatabaseError(err) ?? err;
      }
    }
    let rows: Record<string, unknown>[];
    try {
      rows = (await deps.pool.query(compiled.sql, compiled.params)).rows;
    } catch (err) {
      throw requestCausedDatabaseError(err) ?? err;
    }
    try {
      const doc = shapeRows(compiled.shape, rows);
      return p.data.format === 'text' ? { xml: serializeXml(doc) } : doc;
    } catch (err) {
      if (isQueryError(err)) throw campaignError(err.code, err.message, err.soapFaultCode);
      throw err;
    }
  };
}
