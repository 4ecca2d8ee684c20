import { z } from 'zod';
import {
  applySchemaDdlIn,
  authoringFault,
  lockSchemaDdl,
  readAuthoredSchemas,
  readAuthoredStamps,
  saveAuthoredSchema,
  sourceDigest,
  type StoredAuthoredSource,
} from '@cap/campaign-postgres';
import { authoredFile, readSrcSchemaHead, type AuthoredSource, type Schema, type SchemaCatalog } from '@cap/campaign-schema';
import { SERVICES, TOPICS } from '@cap/contracts';
import { appError, ErrorCatalogue, errors } from '@cap/platform-errors';
import { runConsumer, startRpcClient, type RpcHandler } from '@cap/platform-kafka';
import { withTransaction, type Pool } from '@cap/platform-postgres';
import type { ServiceBase } from '@cap/platform-runtime';

/** Largest srcSchema text authored at run time, and most fields it may declare (docs/schema-authoring.md). */
export const MAX_SOURCE_CHARS = 256 * 1024;
export const MAX_SOURCE_FIELDS = 2_000;

const installParams = z.object({
  source: z
    .string()
    .min(1)
    .max(MAX_SOURCE_CHARS * 2),
});

const rebuildParams = z.object({ id: z.string().min(1).max(256) });

/** What schema.rebuild answers: the compiled schemas built and the authored sources announced again. */
export interface RebuildResult {
  id: string;
  schemas: string[];
  sources: AuthoredSource[];
  statements: { local: number; cloud: number };
}

/** What schema.install answers: the srcSchema id, its md5, and whether anything changed. */
export interface InstallResult {
  id: string;
  md5: string;
  changed: boolean;
  statements: { local: number; cloud: number };
}

/** What an authored source may not ask for yet (placement replicated, new staging tables, methods). */
function unsupported(id: string, compiled: ReadonlyMap<string, Schema>, text: string): string | undefined {
  const own = [...compiled.values()].filter((s) => s.sources.includes(authoredFile(id)));
  for (const schema of own) {
    if (schema.sources[0] !== authoredFile(id)) continue; // an extension: the base decides where it lives
    if (schema.placement === 'replicated') return `${schema.id} is placement="replicated" (only local and cloud schemas)`;
    if (schema.autoStg) return `${schema.id} asks for a staging schema (autoStg)`;
  }
  if (/<methods[\s>]/.test(text)) return `${id} declares <methods>`;
  return undefined;
}

/**
 * Source schemas authored at run time, owned by local-store (docs/schema-authoring.md): `schema.install` validates,
 * compiles and applies one srcSchema (the DDL of the local DB here, of the cloud DB through cloud-executor's
 * `schema.applyDdl`), stores it in cap_authored_schema and announces it on schema.source.installed.v1;
 * `schema.sources` lists the stored ones for a gateway that starts. Every replica follows the announcements.
 */
export async function createSchemaSourceModule(deps: { base: ServiceBase; pool: Pool; catalog: SchemaCatalog; ddlTimeoutMs: number }) {
  const { base, pool, catalog } = deps;
  const logger = base.logger.child({ module: 'schema-sources' });
  const rpc = await startRpcClient(base.messaging, { instanceId: base.instanceId, defaultTimeoutMs: deps.ddlTimeoutMs, registry: base.registry });

  /** The operation InstallPackage calls for each xtk:srcSchema of a package: one srcSchema XML in, installed or refused. */
  async function installSourceSchema(source: string): Promise<InstallResult> {
    if (source.length > MAX_SOURCE_CHARS)
      throw appError(ErrorCatalogue.SCHEMA_SOURCE_TOO_LARGE, { detail: `${source.length} characters (at most ${MAX_SOURCE_CHARS})` });
    let head;
    try {
      head = readSrcSchemaHead(source, 'srcSchema');
    } catch (err) {
      throw authoringFault(err);
    }
    const fields = (source.match(/<(attribute|element)[\s/>]/g) ?? []).length;
    if (fields > MAX_SOURCE_FIELDS) throw appError(ErrorCatalogue.SCHEMA_SOURCE_TOO_LARGE, { detail: `${fields} fields (at most ${MAX_SOURCE_FIELDS})` });
    if (catalog.fileSchemaIds.has(head.id)) throw appError(ErrorCatalogue.SCHEMA_SOURCE_CLASH, { id: head.id });
    const md5 = sourceDigest(source);
    const outcome = await applyAuthored(async (stored) => {
      if (stored.find((s) => s.id === head.id)?.md5 === md5) return undefined;
      return {
        list: [...stored.filter((s) => s.id !== head.id).map(({ id, text }) => ({ id, text })), { id: head.id, text: source }],
        save: { id: head.id, text: source },
      };
    }, head.id);
    if (!outcome) return { id: head.id, md5, changed: false, statements: { local: 0, cloud: 0 } };
    await base.messaging.publish(TOPICS.schemaSourceInstalled, [{ key: head.id, payload: { id: head.id, source, md5 } }]);
    logger.info({ event: 'schema.installed', id: head.id, md5, local: outcome.local, cloud: outcome.cloud }, `source schema ${head.id} installed`);
    return { id: head.id, md5, changed: true, statements: { local: outcome.local, cloud: outcome.cloud } };
  }

  /**
   * One change of the authored model, in one local DB transaction under the schema DDL lock: `choose` reads the
   * stored sources and names the model to compile (undefined: nothing to do); the model is compiled, checked, its
   * DDL applied in the local DB, then in the cloud DB through cloud-executor, `save` stored, and the compiled model
   * installed in this replica once committed.
   */
  async function applyAuthored(
    choose: (stored: StoredAuthoredSource[]) => Promise<{ list: AuthoredSource[]; save?: AuthoredSource } | undefined>,
    id: string,
  ): Promise<{ list: AuthoredSource[]; compiled: Map<string, Schema>; local: number; cloud: number } | undefined> {
    const outcome = await withTransaction(pool, async (client) => {
      // One author at a time, instance-wide: the lock the start-up DDL takes too.
      await lockSchemaDdl(client);
      const chosen = await choose(await readAuthoredSchemas(client));
      if (!chosen) return undefined;
      const { list } = chosen;
      let compiled: Map<string, Schema>;
      try {
        compiled = catalog.compileWith(list);
      } catch (err) {
        throw authoringFault(err);
      }
      if (chosen.save) {
        const why = unsupported(id, compiled, chosen.save.text);
        if (why) throw appError(ErrorCatalogue.SCHEMA_SOURCE_UNSUPPORTED, { detail: why });
      }
      // The local DB first (a refusal here costs the cloud nothing), then the cloud DB, then the stored source:
      // all of this transaction commits together, or none of it.
      let local;
      try {
        local = await applySchemaDdlIn(client, compiled, 'local', logger);
      } catch (err) {
        throw authoringFault(err);
      }
      const cloud = await rpc.request<{ statements: number }>({ service: SERVICES.cloudExecutor, topic: TOPICS.cloudExecutorRequests }, 'schema.applyDdl', {
        sources: list,
      });
      if (chosen.save) await saveAuthoredSchema(client, chosen.save);
      return { list, compiled, local: local.statements.length, cloud: cloud.statements };
    });
    if (outcome) catalog.replace(outcome.list, outcome.compiled);
    return outcome;
  }

  /**
   * xtk:builder#BuildSchemaFromId: compiles the model again from the STORED sources (not from any replica's memory)
   * and applies its DDL to both databases, which repairs a table or column that went missing; then announces the
   * sources that make up that schema, so every replica compiles them in again. `id` is a source schema id (a file's
   * or an authored one, an extension included) or a compiled schema id. Unknown: UNKNOWN_SCHEMA.
   */
  async function rebuildSchema(id: string): Promise<RebuildResult> {
    const outcome = await applyAuthored(async (stored) => {
      const known = stored.some((s) => s.id === id) || catalog.fileSchemaIds.has(id) || catalog.schemas.has(id);
      if (!known) throw appError(ErrorCatalogue.UNKNOWN_SCHEMA, { detail: `Unknown schema '${id.slice(0, 200)}': no source schema or schema has this id` });
      return { list: stored.map(({ id: sid, text }) => ({ id: sid, text })) };
    }, id);
    if (!outcome) throw new Error('internal error: a rebuild always compiles');
    const own = outcome.list.find((s) => s.id === id);
    // An extension (cus:recipient) builds the schema it extends; any other id builds the schema of that id.
    const target = own ? (readSrcSchemaHead(own.text, authoredFile(id)).extendedSchema ?? id) : id;
    const built = outcome.compiled.get(target);
    // The authored sources that make up the built schema: its own and its extensions, announced again.
    const files = new Set(built?.sources ?? []);
    const sources = outcome.list.filter((s) => files.has(authoredFile(s.id)));
    for (const s of sources)
      await base.messaging.publish(TOPICS.schemaSourceInstalled, [{ key: s.id, payload: { id: s.id, source: s.text, md5: sourceDigest(s.text) } }]);
    logger.info(
      { event: 'schema.rebuilt', id, schema: built?.id, sources: sources.map((s) => s.id), local: outcome.local, cloud: outcome.cloud },
      `schema ${id} built`,
    );
    return { id, schemas: built ? [built.id] : [], sources, statements: { local: outcome.local, cloud: outcome.cloud } };
  }

  // The announcements of the other replicas (this one's own are already installed: upsertAuthored skips them).
  const follower = await runConsumer(base.messaging, {
    groupId: `schema-sources-${base.instanceId}`,
    topic: TOPICS.schemaSourceInstalled,
    fromReady: true,
    commitOffsets: false,
    handle: async (m) => catalog.upsertAuthored([{ id: m.envelope.payload.id, text: m.envelope.payload.source }]),
  });

  const rpcHandlers: Record<string, RpcHandler> = {
    'schema.install': async (params) => {
      const p = installParams.safeParse(params);
      if (!p.success) throw errors.invalidRequest('schema.install parameters', p.error.issues.map((i) => i.message).join('; '));
      return installSourceSchema(p.data.source);
    },
    'schema.sources': async () => ({ sources: await readAuthoredSchemas(pool) }),
    // When each authored source was stored and changed, without the texts (xtk:srcSchema queries on @created…).
    'schema.stamps': async () => ({ stamps: await readAuthoredStamps(pool) }),
    'schema.rebuild': async (params) => {
      const p = rebuildParams.safeParse(params);
      if (!p.success) throw errors.invalidRequest('schema.rebuild parameters', p.error.issues.map((i) => i.message).join('; '));
      return rebuildSchema(p.data.id);
    },
  };
  return {
    installSourceSchema,
    rebuildSchema,
    rpcHandlers,
    workers: [
      {
        name: 'schema-sources',
        check: () => follower.checkHealth(),
        stop: async () => {
          await follower.stop();
          await rpc.stop();
        },
      },
    ],
  };
}
