import { createHash } from 'node:crypto';
import { schemaToXml, type Schema } from '@cap/campaign-schema';
import { serializeXml } from '@cap/campaign-xml';

/** One schema as served, and since when: what GetModifiedEntities reports and GetEntityIfMoreRecent compares. */
export interface SchemaVersion {
  /** Upper-case hex MD5 of the compiled schema document, as Campaign writes entity digests. */
  md5: string;
  /** When a gateway first served this content (ms since the epoch). */
  lastModified: number;
}

/** The digest of the compiled schema a client downloads (xtk:schema|<id>). */
export function schemaDigest(schema: Schema): string {
  return createHash('md5')
    .update(serializeXml(schemaToXml(schema), { plain: true }))
    .digest('hex')
    .toUpperCase();
}

/** `md5;lastModified` as stored in Redis, or undefined for anything else. */
export function parseSchemaVersion(text: string | undefined): SchemaVersion | undefined {
  const m = text ? /^([0-9A-F]{32});(\d{1,15})$/.exec(text) : null;
  return m ? { md5: m[1]!, lastModified: Number(m[2]) } : undefined;
}

/**
 * Which schemas changed when a gateway starts: those whose digest differs from the one recorded (or none is),
 * stamped `now`. The others keep their recorded version.
 */
export function changedSchemaVersions(
  digests: ReadonlyMap<string, string>,
  recorded: Readonly<Record<string, string>>,
  now: number,
): Map<string, SchemaVersion> {
  const changed = new Map<string, SchemaVersion>();
  for (const [id, md5] of digests) {
    if (parseSchemaVersion(recorded[id])?.md5 !== md5) changed.set(id, { md5, lastModified: now });
  }
  return changed;
}

/** The Redis commands the registry uses (node-redis). */
export interface SchemaVersionStore {
  hGetAll(key: string): Promise<Record<string, string>>;
  hSet(key: string, values: Record<string, string>): Promise<unknown>;
}

export interface SchemaVersions {
  /** Records the schemas this gateway serves: a changed digest gets a new lastModified. Called once at start. */
  record(): Promise<void>;
  /** The schemas changed (an authored source schema was installed): digests computed again, then recorded. */
  refresh(): Promise<void>;
  /** Every schema version recorded by any gateway sharing the Redis key prefix. */
  all(): Promise<Map<string, SchemaVersion>>;
  /** The digest of a schema this gateway serves. */
  digestOf(id: string): string | undefined;
}

/**
 * Schema versions shared by the gateways of one instance, in one Redis hash (`<prefix>schema-versions`, field = schema
 * id, value = `md5;lastModified`). A gateway started on a changed schema file stamps that schema, so every gateway
 * can tell the SDK's cache refresher (xtk:session#GetModifiedEntities) that it changed.
 */
export function createSchemaVersions(deps: {
  store: SchemaVersionStore;
  keyPrefix: string;
  schemas: ReadonlyMap<string, Schema>;
  now?: () => number;
}): SchemaVersions {
  const key = `${deps.keyPrefix}schema-versions`;
  const digestsOf = () => new Map([...deps.schemas.values()].map((s) => [s.id, schemaDigest(s)] as const));
  let digests = digestsOf();
  const versions: SchemaVersions = {
    async refresh() {
      digests = digestsOf();
      await versions.record();
    },
    async record() {
      const changed = changedSchemaVersions(digests, await deps.store.hGetAll(key), (deps.now ?? Date.now)());
      if (changed.size > 0) await deps.store.hSet(key, Object.fromEntries([...changed].map(([id, v]) => [id, `${v.md5};${v.lastModified}`])));
    },
    async all() {
      const versions = new Map<string, SchemaVersion>();
      for (const [id, text] of Object.entries(await deps.store.hGetAll(key))) {
        const version = parseSchemaVersion(text);
        if (version) versions.set(id, version);
      }
      return versions;
    },
    digestOf: (id) => digests.get(id),
  };
  return versions;
}
