import { createHash } from 'node:crypto';
import { DdlError } from '@cap/campaign-ddl';
import { SchemaError, type AuthoredSource } from '@cap/campaign-schema';
import { appError, appErrorWithText, ErrorCatalogue } from '@cap/platform-errors';
import type { Pool, PoolClient } from '@cap/platform-postgres';

type Queryable = Pick<PoolClient, 'query'> | Pool;

/** Upper-case hex MD5 of a source schema's text: the md5 of its xtk:srcSchema entity. */
export function sourceDigest(text: string): string {
  return createHash('md5').update(text).digest('hex').toUpperCase();
}

/** An authored source schema as stored (table cap_authored_schema, migrations of local-store and cloud-executor). */
export interface StoredAuthoredSource extends AuthoredSource {
  md5: string;
  created: string;
  lastModified: string;
}

/** Every authored source schema, oldest first (the order they are compiled in does not matter). */
export async function readAuthoredSchemas(db: Queryable): Promise<StoredAuthoredSource[]> {
  const { rows } = await db.query<{ id: string; source: string; md5: string; created: Date; last_modified: Date }>(
    'SELECT id, source, md5, created, last_modified FROM cap_authored_schema ORDER BY created, id',
  );
  return rows.map((r) => ({ id: r.id, text: r.source, md5: r.md5, created: r.created.toISOString(), lastModified: r.last_modified.toISOString() }));
}

/** When each authored source schema was stored and last changed, with its md5 but not its text (a few bytes a row). */
export async function readAuthoredStamps(db: Queryable): Promise<Omit<StoredAuthoredSource, 'text'>[]> {
  const { rows } = await db.query<{ id: string; md5: string; created: Date; last_modified: Date }>(
    'SELECT id, md5, created, last_modified FROM cap_authored_schema ORDER BY id',
  );
  return rows.map((r) => ({ id: r.id, md5: r.md5, created: r.created.toISOString(), lastModified: r.last_modified.toISOString() }));
}

/** Stores (or replaces) one authored source schema; idempotent for the same text. */
export async function saveAuthoredSchema(db: Queryable, source: AuthoredSource): Promise<void> {
  await db.query(
    `INSERT INTO cap_authored_schema (id, source, md5) VALUES ($1, $2, $3)
     ON CONFLICT (id) DO UPDATE SET source = EXCLUDED.source, md5 = EXCLUDED.md5, last_modified = now()
      WHERE cap_authored_schema.md5 <> EXCLUDED.md5`,
    [source.id, source.text, sourceDigest(source.text)],
  );
}

/**
 * What the compiler and the DDL planner refuse while authoring, as the fault a client sees: SCHEMA_SOURCE_INVALID with
 * every compile problem, the DdlError's own entry with every refused change. Anything else is returned as it is.
 */
export function authoringFault(err: unknown): unknown {
  if (err instanceof SchemaError)
    return appError(ErrorCatalogue.SCHEMA_SOURCE_INVALID, {
      detail: err.problems.map((p) => `${p.file}:${p.line}: ${p.attribute ? `${p.attribute}: ` : ''}${p.message}`).join('; '),
    });
  if (err instanceof DdlError) return appErrorWithText(err.entry, err.problems.join('; '));
  return err;
}
