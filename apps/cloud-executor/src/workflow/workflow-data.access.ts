import { SERVICES, TOPICS } from '@cap/contracts';
import { createQueryHandler, createWriteHandler, type QueryLimits, type WriteResult } from '@cap/campaign-rpc';
import type { Schema } from '@cap/campaign-schema';
import { attrLocal, serializeXml, type XmlElement } from '@cap/campaign-xml';
import type { RpcClient, RpcHandler } from '@cap/platform-kafka';
import { appError, ErrorCatalogue } from '@cap/platform-errors';
import type { Pool } from '@cap/platform-postgres';

export type WriteMode = 'write' | 'writeCollection' | 'ingest' | 'ingestExt';

/**
 * The data API as workflow activities use it: the same requests the gateway sends for SOAP clients, routed by
 * where the schema's rows live. Cloud schemas are served in-process against the cloud database this service
 * owns (the data.query / data.write handlers every client reaches); local, replicated and staging schemas go
 * to local-store over RPC. Errors are AppErrors raised by catalogue entry (QUERY_INVALID…).
 */
export interface WorkflowDataAccess {
  query(queryDef: XmlElement): Promise<XmlElement>;
  write(mode: WriteMode, doc: XmlElement): Promise<WriteResult>;
  subscription(change: { action: 'subscribe' | 'unsubscribe'; services: string; recipient: XmlElement; create: boolean }): Promise<void>;
  getOption(name: string): Promise<string>;
}

export function createWorkflowDataAccess(deps: {
  pool: Pool;
  schemas: ReadonlyMap<string, Schema>;
  rpc: RpcClient;
  timeoutMs: number;
  limits: QueryLimits;
}): WorkflowDataAccess {
  const cloudQuery: RpcHandler = createQueryHandler({ pool: deps.pool, schemas: deps.schemas, database: 'cloud', limits: deps.limits });
  const cloudWrite: RpcHandler = createWriteHandler({ pool: deps.pool, schemas: deps.schemas, database: 'cloud' });
  const localStore = { service: SERVICES.localStore, topic: TOPICS.localStoreRequests };
  const inProcess = () => ({ correlationId: 'workflow', deadline: Date.now() + deps.timeoutMs });

  const schemaOf = (id: string | undefined, what: string): Schema => {
    const schema = id ? deps.schemas.get(id) : undefined;
    if (!schema)
      throw appError(what === 'queryDef' ? ErrorCatalogue.QUERY_INVALID : ErrorCatalogue.UNKNOWN_SCHEMA, {
        detail: `Unknown schema '${id ?? ''}'${what === 'queryDef' ? ' in queryDef' : ''}`,
      });
    return schema;
  };

  return {
    async query(queryDef) {
      const schema = schemaOf(attrLocal(queryDef, 'schema'), 'queryDef');
      const params = { queryDef: serializeXml(queryDef, { plain: true }) };
      return (
        schema.placement === 'cloud'
          ? await cloudQuery(params, inProcess())
          : await deps.rpc.request<XmlElement>(localStore, 'data.query', params, { timeoutMs: deps.timeoutMs, idempotent: true })
      ) as XmlElement;
    },
    async write(mode, doc) {
      const id = attrLocal(doc, 'xtkschema') ?? (mode === 'writeCollection' ? doc.children.map((c) => attrLocal(c, 'xtkschema')).find(Boolean) : undefined);
      if (!id)
        throw appError(ErrorCatalogue.MISSING_SCHEMA, {
          detail: `The document <${doc.local}> does not say which schema it writes: add xtkschema="namespace:name"`,
        });
      const schema = schemaOf(id, 'document');
      // A workflow writes as nobody: the service that applies the write refuses every record (and linked record)
      // of a schema that needs a right (xtk:operator, xtk:option, xtk:workflow) with ACCESS_DENIED.
      const params = { mode, doc: serializeXml(doc, { plain: true }) };
      return (
        schema.placement === 'cloud'
          ? await cloudWrite(params, inProcess())
          : await deps.rpc.request<WriteResult>(localStore, 'data.write', params, { timeoutMs: deps.timeoutMs })
      ) as WriteResult;
    },
    async subscription(change) {
      await deps.rpc.request(
        localStore,
        'subscription.change',
        { ...change, recipient: serializeXml(change.recipient, { plain: true }) },
        { timeoutMs: deps.timeoutMs },
      );
    },
    async getOption(name) {
      const option = await deps.rpc.request<{ value: string }>(localStore, 'option.get', { name }, { timeoutMs: deps.timeoutMs, idempotent: true });
      return option.value;
    },
  };
}
