import { SoapFault } from '@cap/campaign-soap';
import type { AuthoredSource, SchemaCatalog } from '@cap/campaign-schema';
import { serializeXml, type XmlElement } from '@cap/campaign-xml';
import { SERVICES, TOPICS } from '@cap/contracts';
import { ErrorCatalogue } from '@cap/platform-errors';
import { runConsumer, type Messaging, type RpcClient } from '@cap/platform-kafka';
import type { Logger } from '@cap/platform-logger';
import type { Downstreams } from '../downstream.client';
import type { SchemaVersions } from '../schema-versions';
import { isAdmin } from '../session/session.model';
import type { CallContext } from '../soap/soap-method';

/** Attributes of a written document that are about the write, not the source schema (the SDK adds xtkschema). */
const WRITE_ATTRIBUTES = new Set(['xtkschema', '_operation', '_key']);

/** The largest srcSchema document the gateway forwards (local-store refuses beyond 256 KiB of source anyway). */
const MAX_FORWARDED_CHARS = 512 * 1024;

export interface SchemaAuthoring {
  /** xtk:session#Write (or xtk:persist#Write) of an xtk:srcSchema document: administrators only. */
  write(ctx: CallContext, doc: XmlElement): Promise<void>;
  /**
   * xtk:builder#BuildSchemaFromId: local-store compiles the schema `id` again from the stored sources and applies its
   * DDL (`schema.rebuild`); this gateway adopts the sources it names at once, the others on the announcement.
   * Administrators only (the SOAP method checks the right).
   */
  rebuild(id: string): Promise<void>;
  /** Compiles authored sources into the schemas this gateway serves (stored ones at start, announcements). */
  adopt(sources: readonly AuthoredSource[]): Promise<void>;
}

/**
 * Schema authoring as the gateway sees it (docs/schema-authoring.md): local-store installs (`schema.install`); the
 * gateway that took the call serves the new model at once, the others when the announcement reaches them.
 */
export function createSchemaAuthoring(deps: {
  catalog: SchemaCatalog;
  rpc: RpcClient;
  schemaVersions: SchemaVersions;
  timeoutMs: number;
  logger: Logger;
}): SchemaAuthoring {
  const authoring: SchemaAuthoring = {
    async write(ctx, doc) {
      if (ctx.caller.kind !== 'operator' || !isAdmin(ctx.caller.operator))
        throw SoapFault.of(ErrorCatalogue.ACCESS_DENIED, {
          who: ctx.caller.kind === 'operator' ? `operator '${ctx.caller.operator.login}'` : 'an anonymous caller',
          what: 'write source schemas (xtk:srcSchema): administrators only',
        });
      const source: XmlElement = {
        ...doc,
        name: 'srcSchema',
        local: 'srcSchema',
        prefix: '',
        ns: '',
        attrs: Object.fromEntries(Object.entries(doc.attrs).filter(([name]) => !WRITE_ATTRIBUTES.has(name))),
      };
      const text = serializeXml(source, { plain: true });
      if (text.length > MAX_FORWARDED_CHARS)
        throw SoapFault.of(ErrorCatalogue.SCHEMA_SOURCE_TOO_LARGE, { detail: `${text.length} characters (at most ${MAX_FORWARDED_CHARS})` });
      const installed = await deps.rpc.request<{ id: string; changed: boolean }>(
        { service: SERVICES.localStore, topic: TOPICS.localStoreRequests },
        'schema.install',
        { source: text },
        { timeoutMs: deps.timeoutMs },
      );
      if (installed.changed) await authoring.adopt([{ id: installed.id, text }]);
    },
    async rebuild(id) {
      const built = await deps.rpc.request<{ sources: AuthoredSource[] }>(
        { service: SERVICES.localStore, topic: TOPICS.localStoreRequests },
        'schema.rebuild',
        { id },
        // DDL on both databases, as a Write of a srcSchema: the same deadline, and never resent elsewhere.
        { timeoutMs: deps.timeoutMs },
      );
      if (built.sources.length > 0) await authoring.adopt(built.sources.map(({ id: sid, text }) => ({ id: sid, text })));
    },
    async adopt(sources) {
      const before = deps.catalog.authored();
      deps.catalog.upsertAuthored(sources);
      if (deps.catalog.authored().length !== before.length || sources.some((s) => !before.some((b) => b.id === s.id && b.text === s.text)))
        await deps.schemaVersions.refresh();
    },
  };
  return authoring;
}

/** Whether a written document is a source schema (xtkschema="xtk:srcSchema", or a bare <srcSchema>): authoring, not data. */
export function isSrcSchemaDocument(doc: XmlElement): boolean {
  const xtkschema = doc.attrs['xtkschema'];
  return xtkschema === 'xtk:srcSchema' || (xtkschema === undefined && doc.local === 'srcSchema');
}

/**
 * Follows schema authoring: announcements from when this gateway is ready, then the stored sources from local-store
 * (asked again every few seconds until it answers, so a gateway started before local-store catches up).
 */
export async function followSchemaSources(deps: {
  messaging: Messaging;
  instanceId: string;
  downstreams: Downstreams;
  authoring: SchemaAuthoring;
  logger: Logger;
  retryMs?: number;
}): Promise<{ checkHealth(): Promise<void>; stop(): Promise<void> }> {
  const follower = await runConsumer(deps.messaging, {
    groupId: `schema-sources-${deps.instanceId}`,
    topic: TOPICS.schemaSourceInstalled,
    fromReady: true,
    commitOffsets: false,
    handle: async (m) => deps.authoring.adopt([{ id: m.envelope.payload.id, text: m.envelope.payload.source }]),
  });
  await follower.ready;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const load = async (): Promise<void> => {
    try {
      const { sources } = await deps.downstreams.call<{ sources: AuthoredSource[] }>(SERVICES.localStore, 'schema.sources', {});
      await deps.authoring.adopt(sources.map(({ id, text }) => ({ id, text })));
    } catch (err) {
      deps.logger.warn({ event: 'schema.sources.unavailable', err }, 'authored source schemas not loaded yet; asking local-store again');
      if (!stopped) timer = setTimeout(() => void load(), deps.retryMs ?? 5_000).unref();
    }
  };
  await load();
  return {
    checkHealth: () => follower.checkHealth(),
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await follower.stop();
    },
  };
}
