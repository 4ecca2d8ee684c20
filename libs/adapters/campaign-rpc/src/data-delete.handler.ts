import { z } from 'zod';
import { compileQueryDef, isQueryError } from '@cap/campaign-query';
import { type Database, quoteIdent, type Schema } from '@cap/campaign-schema';
import { checkWriteAccess, WriteError } from '@cap/campaign-write';
import { element, parseXml, XmlParseError } from '@cap/campaign-xml';
import { appError, appErrorOf, ErrorCatalogue, errors } from '@cap/platform-errors';
import type { RpcHandler } from '@cap/platform-kafka';
import { withTransaction, type Pool } from '@cap/platform-postgres';
import { CLAIMED_RIGHTS, requestCausedDatabaseError, type OperatorRightsLookup } from './data-write.handler';

const deleteParams = z.object({
  schema: z.string().min(1).max(128),
  /** The <where> element as the client sent it (serialised XML). */
  where: z
    .string()
    .min(1)
    .max(1024 * 1024),
  operatorId: z.string().max(64).optional(),
  operatorLogin: z.string().max(128).optional(),
  operatorRights: z.array(z.string().max(64)).max(256).optional(),
});

/**
 * `data.deleteCollection`: xtk:session#DeleteCollection(schema, where). The where clause is compiled by the
 * queryDef compiler (same expressions, joins and bound values as ExecuteQuery) into the set of primary keys
 * to delete, and the rows go in one statement. An empty where is refused: it would empty the table.
 */
export function createDeleteCollectionHandler(deps: {
  pool: Pool;
  schemas: ReadonlyMap<string, Schema>;
  database: Database;
  operatorRights?: OperatorRightsLookup;
}): RpcHandler {
  const operatorRights = deps.operatorRights ?? CLAIMED_RIGHTS;
  return async (params) => {
    const p = deleteParams.safeParse(params);
    if (!p.success) throw errors.invalidRequest('data.deleteCollection parameters', p.error.issues[0]?.message ?? 'rejected');
    const schema = deps.schemas.get(p.data.schema);
    if (!schema) throw appError(ErrorCatalogue.UNKNOWN_SCHEMA, { detail: `Unknown schema '${p.data.schema}'` });
    if (!schema.primaryKey || schema.placement === 'staging' || !schema.databases.includes(deps.database)) {
      throw appError(ErrorCatalogue.NOT_WRITABLE, { detail: `DeleteCollection cannot delete from ${schema.id}` });
    }
    if (schema.writeRights.length > 0) {
      try {
        checkWriteAccess([schema], await operatorRights(p.data));
      } catch (err) {
        if (err instanceof WriteError) throw appErrorOf(err);
        throw err;
      }
    }
    let statement: { sql: string; params: unknown[] };
    try {
      const where = parseXml(p.data.where);
      if (where.local !== 'where' || !where.children.some((c) => c.local === 'condition')) {
        throw appError(ErrorCatalogue.NO_KEY, { detail: `DeleteCollection on ${schema.id} needs a <where> with at least one condition` });
      }
      const queryDef = element('queryDef', { schema: schema.id, operation: 'select', lineCount: '999999999999999' }, [
        element('select', {}, [element('node', { expr: schema.primaryKey.xpath })]),
        where,
      ]);
      const compiled = compileQueryDef(queryDef, deps.schemas, { database: deps.database, maxLineCount: Number.MAX_SAFE_INTEGER });
      const table = quoteIdent(schema.table);
      const pk = quoteIdent(schema.primaryKey.column);
      statement = { sql: `DELETE FROM ${table} WHERE ${pk} IN (SELECT "c0" FROM (${compiled.sql}) AS cap_delete)`, params: compiled.params };
    } catch (err) {
      if (isQueryError(err)) throw appErrorOf(err);
      if (err instanceof XmlParseError) throw appError(ErrorCatalogue.SOAP_MALFORMED, { what: 'where', why: err.message });
      throw err;
    }
    let deleted: number;
    try {
      deleted = await withTransaction(deps.pool, async (client) => (await client.query(statement.sql, statement.params)).rowCount ?? 0);
    } catch (err) {
      throw requestCausedDatabaseError(err) ?? err;
    }
    return { deleted };
  };
}
