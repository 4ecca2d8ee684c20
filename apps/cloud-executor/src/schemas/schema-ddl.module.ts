import { z } from 'zod';
import { applySchemaDdlIn, authoringFault, saveAuthoredSchema } from '@cap/campaign-postgres';
import type { Schema, SchemaCatalog } from '@cap/campaign-schema';
import { TOPICS } from '@cap/contracts';
import { errors } from '@cap/platform-errors';
import { runConsumer, type RpcHandler } from '@cap/platform-kafka';
import { withTransaction, type Pool } from '@cap/platform-postgres';
import type { ServiceBase } from '@cap/platform-runtime';

const applyParams = z.object({
  sources: z
    .array(
      z.object({
        id: z.string().min(1).max(200),
        text: z
          .string()
          .min(1)
          .max(1024 * 1024),
      }),
    )
    .max(1_000),
});

/**
 * cloud-executor's part of schema authoring (docs/schema-authoring.md): `schema.applyDdl`, called by local-store while
 * it installs a source schema, compiles the schema files with every authored source, applies the cloud DB's DDL
 * (refusing destructive changes) and keeps the sources in this database's cap_authored_schema, in one transaction;
 * every replica follows schema.source.installed.v1 to compile the new model.
 */
export async function createSchemaDdlModule(deps: { base: ServiceBase; pool: Pool; catalog: SchemaCatalog }) {
  const { base, pool, catalog } = deps;
  const logger = base.logger.child({ module: 'schema-sources' });
  const follower = await runConsumer(base.messaging, {
    groupId: `schema-sources-${base.instanceId}`,
    topic: TOPICS.schemaSourceInstalled,
    fromReady: true,
    commitOffsets: false,
    handle: async (m) => {
      const source = { id: m.envelope.payload.id, text: m.envelope.payload.source };
      catalog.upsertAuthored([source]);
      await saveAuthoredSchema(pool, source);
    },
  });
  const rpcHandlers: Record<string, RpcHandler> = {
    'schema.applyDdl': async (params) => {
      const p = applyParams.safeParse(params);
      if (!p.success) throw errors.invalidRequest('schema.applyDdl parameters', p.error.issues.map((i) => i.message).join('; '));
      let compiled: Map<string, Schema>;
      try {
        compiled = catalog.compileWith(p.data.sources);
      } catch (err) {
        throw authoringFault(err);
      }
      const plan = await withTransaction(pool, async (client) => {
        let applied;
        try {
          applied = await applySchemaDdlIn(client, compiled, 'cloud', logger);
        } catch (err) {
          throw authoringFault(err);
        }
        for (const source of p.data.sources) await saveAuthoredSchema(client, source);
        return applied;
      });
      // This replica serves the new model at once (the caller's next call may come here); the others on the announcement.
      catalog.replace(p.data.sources, compiled);
      return { statements: plan.statements.length };
    },
  };
  return { rpcHandlers, workers: [{ name: 'schema-sources', check: () => follower.checkHealth(), stop: () => follower.stop() }] };
}
