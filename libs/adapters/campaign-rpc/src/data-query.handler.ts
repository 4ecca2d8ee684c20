import { z } from 'zod';
import {
  compileQueryDef,
  createResultBuilder,
  createResultTextBuilder,
  inlineSqlParams,
  isQueryError,
  normaliseQueryDef,
  queryFormat,
  shapeRows,
  type CompiledQuery,
  type ResultBuilder,
  type ResultRow,
} from '@cap/campaign-query';
import type { Database, Schema } from '@cap/campaign-schema';
import { parseXml, serializeXml, XmlParseError, type XmlElement } from '@cap/campaign-xml';
import { appError, appErrorOf, ErrorCatalogue, errors } from '@cap/platform-errors';
import type { RpcHandler } from '@cap/platform-kafka';
import { withTransaction, type Pool } from '@cap/platform-postgres';
import { requestCausedDatabaseError } from './data-write.handler';
import { getPageQueryKey, type PageCursor, type PageCursorCache } from './page-cursor.cache';

const queryParams = z.object({
  /** The <queryDef> as the client sent it (serialised XML). */
  queryDef: z
    .string()
    .min(1)
    .max(1024 * 1024),
  /** `execute` runs it; `sql` only compiles it (BuildQuery). */
  action: z.enum(['execute', 'sql']).default('execute'),
  /**
   * `element`: the result document as an element tree. `text`: `{ xml }`, the document already serialised,
   * row by row as they are read (what the gateway asks for: it only writes the text into the SOAP response).
   */
  format: z.enum(['element', 'text']).default('element'),
  /** The operator asking (keyset paging remembers page ends per operator and query). */
  operatorId: z.string().max(64).optional(),
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

/** How a select page reached its startLine: none to skip, the rows after a remembered cursor, or OFFSET. */
export type PageMode = 'first' | 'keyset' | 'offset';

/**
 * Keyset paging (cloud-executor): the sort keys of the last row of each page served are remembered, and a
 * page whose startLine is where a remembered page of the same query and operator ended is read as "the rows
 * after that row" (O(lineCount)) rather than with OFFSET (O(startLine)). Only for selects whose order is
 * total (the query compiler decides); the rows are the same as OFFSET paging returns on an unchanged table.
 */
export interface KeysetPaging {
  cursors: PageCursorCache;
  /** Called once per select served (metrics). */
  onPage?: (mode: PageMode) => void;
}

/** The sort keys of a result row of a keyset-eligible select (its trailing `k0`, `k1`… columns). */
function getPageCursor(compiled: CompiledQuery, row: ResultRow): PageCursor {
  const first = compiled.shape.columns.length;
  return Array.from({ length: compiled.keyset?.keyCount ?? 0 }, (_, i) => {
    const v = Array.isArray(row) ? row[first + i] : (row as Readonly<Record<string, unknown>>)[`k${i}`];
    return v === null || v === undefined ? null : String(v);
  });
}

/** Passes rows on to `builder`, counting them and keeping the last one. */
function watchRows<T>(builder: ResultBuilder<T>): ResultBuilder<T> & { rows: number; last: ResultRow | undefined } {
  const watch = {
    rows: 0,
    last: undefined as ResultRow | undefined,
    add(chunk: readonly ResultRow[]) {
      builder.add(chunk);
      watch.rows += chunk.length;
      if (chunk.length > 0) watch.last = chunk[chunk.length - 1];
    },
    build: () => builder.build(),
  };
  return watch;
}

/**
 * Runs a compiled select through a server-side cursor in a read-only transaction, FETCHing `fetchRows` rows
 * at a time and shaping each chunk before reading the next one.
 */
async function executeThroughCursor<T>(pool: Pool, compiled: CompiledQuery, fetchRows: number, builder: ResultBuilder<T>): Promise<T> {
  await withTransaction(
    pool,
    async (client) => {
      await client.query(`DECLARE "cap_query" NO SCROLL CURSOR FOR ${compiled.sql}`, compiled.params);
      for (;;) {
        const chunk = await client.query<unknown[]>({ text: `FETCH FORWARD ${fetchRows} FROM "cap_query"`, rowMode: 'array' });
        builder.add(chunk.rows);
        if (chunk.rows.length < fetchRows) break;
      }
    },
    { readOnly: true },
  );
  return builder.build();
}

/**
 * `data.query`: xtk:queryDef#ExecuteQuery (and BuildQuery) on the schemas whose tables are in this service's
 * database. The queryDef compiles to one parameterised statement; rows come back shaped as Campaign's result
 * document (an element tree, serialised by the gateway). With `limits.cursorFetchRows`, a select is read
 * through a server-side cursor chunk by chunk (bounded memory for pages up to QUERY_MAX_LINE_COUNT rows).
 */
export function createQueryHandler(deps: {
  pool: Pool;
  schemas: ReadonlyMap<string, Schema>;
  database: Database;
  limits: QueryLimits;
  keyset?: KeysetPaging;
}): RpcHandler {
  return async (params): Promise<XmlElement | QueryTextResult | { sql: string; runnableSql: string; format: string }> => {
    const p = queryParams.safeParse(params);
    if (!p.success) throw errors.invalidRequest('data.query parameters', p.error.issues[0]?.message ?? 'rejected');
    let compiled: CompiledQuery;
    // Keyset paging: the query's identity in the cursor cache, and where this page starts.
    let page: { key: string; startLine: number; cursors: PageCursorCache } | undefined;
    let mode: PageMode = 'first';
    try {
      const q = normaliseQueryDef(parseXml(p.data.queryDef));
      const cursors = deps.keyset?.cursors;
      if (cursors?.enabled && p.data.action === 'execute' && q.operation === 'select') {
        page = { key: getPageQueryKey(p.data.operatorId, q), startLine: q.startLine ?? 0, cursors };
      }
      const after = page && page.startLine > 0 ? page.cursors.find(page.key, page.startLine) : undefined;
      compiled = compileQueryDef(q, deps.schemas, {
        database: deps.database,
        defaultLineCount: deps.limits.defaultLineCount,
        maxLineCount: deps.limits.maxLineCount,
        orderPages: true,
        ...(page ? { keyset: after ? { after } : {} } : {}),
      });
      if ((q.startLine ?? 0) > 0) mode = compiled.keyset?.applied ? 'keyset' : 'offset';
    } catch (err) {
      if (isQueryError(err)) throw appErrorOf(err);
      if (err instanceof XmlParseError) throw appError(ErrorCatalogue.SOAP_MALFORMED, { what: 'queryDef', why: err.message });
      throw err;
    }
    // BuildQuery: the statement with its placeholders. BuildQueryEx: the statement with its values written in as
    // literals (for sqlSelect, which runs it as it is), and the format of its columns.
    if (p.data.action === 'sql') return { sql: compiled.sql, runnableSql: inlineSqlParams(compiled.sql, compiled.params), format: queryFormat(compiled.shape) };
    // Once a page is read: remember where it ended (its last row's sort keys), count how it was reached.
    const served = (rows: number, last: ResultRow | undefined): void => {
      if (page && compiled.keyset && last !== undefined) page.cursors.remember(page.key, page.startLine + rows, getPageCursor(compiled, last));
      if (compiled.shape.operation === 'select') deps.keyset?.onPage?.(mode);
    };
    const fetchRows = deps.limits.cursorFetchRows;
    if (fetchRows !== undefined && compiled.shape.operation === 'select') {
      try {
        if (p.data.format === 'text') {
          const watch = watchRows(createResultTextBuilder(compiled.shape));
          const xml = await executeThroughCursor(deps.pool, compiled, fetchRows, watch);
          served(watch.rows, watch.last);
          return { xml };
        }
        const watch = watchRows(createResultBuilder(compiled.shape));
        const doc = await executeThroughCursor(deps.pool, compiled, fetchRows, watch);
        served(watch.rows, watch.last);
        return doc;
      } catch (err) {
        if (isQueryError(err)) throw appErrorOf(err);
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
      served(rows.length, rows[rows.length - 1]);
      return p.data.format === 'text' ? { xml: serializeXml(doc) } : doc;
    } catch (err) {
      if (isQueryError(err)) throw appErrorOf(err);
      throw err;
    }
  };
}
