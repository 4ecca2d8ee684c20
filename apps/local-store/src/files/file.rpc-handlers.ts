import { z } from 'zod';
import type { OperatorRightsLookup } from '@cap/campaign-rpc';
import { appError, ErrorCatalogue, errors } from '@cap/platform-errors';
import type { RpcHandler } from '@cap/platform-kafka';
import { withTransaction, type Pool } from '@cap/platform-postgres';

/** Largest part one `file.putPart` or `file.read` carries (base64 in one RPC message, well within its deadline). */
export const FILE_PART_BYTES = 1024 * 1024;
/** Largest file `file.commit` assembles (the gateway's FILE_MAX_BYTES may not exceed it). */
export const FILE_STORE_MAX_BYTES = 64 * 1024 * 1024;
/** Parts of an upload never committed (the gateway stopped half-way) are deleted after this long. */
const STALE_PARTS = '1 hour';

const md5 = z.string().regex(/^[0-9a-f]{32}$/, 'expected 32 lower-case hexadecimal digits');
const ext = z.string().regex(/^[a-z0-9]{1,16}$/, 'expected 1 to 16 lower-case letters or digits');
const operatorId = z.string().regex(/^[0-9]{1,19}$/, 'expected an operator id');
const internalName = z.string().min(1).max(128);
const uploadId = z.uuid();

const putPartParams = z.object({
  uploadId,
  seq: z
    .number()
    .int()
    .min(0)
    .max(FILE_STORE_MAX_BYTES / FILE_PART_BYTES),
  content: z.string().max(Math.ceil(FILE_PART_BYTES / 3) * 4 + 4),
});
const commitParams = z.object({
  uploadId,
  parts: z
    .number()
    .int()
    .min(1)
    .max(FILE_STORE_MAX_BYTES / FILE_PART_BYTES + 1),
  size: z.number().int().min(0).max(FILE_STORE_MAX_BYTES),
  md5,
  ext,
  operatorId,
  fileName: z.string().min(1).max(255),
  contentType: z.string().min(1).max(255),
});
const abortParams = z.object({ uploadId });
const getParams = z.object({ md5, ext, operatorId: operatorId.optional() });
const readParams = getParams.extend({ offset: z.number().int().min(0).max(FILE_STORE_MAX_BYTES), length: z.number().int().min(1).max(FILE_PART_BYTES) });
const publishParams = z.object({ internalName, operatorId, urlPrefix: z.string().min(1).max(512) });
const urlParams = z.object({ internalName, urlPrefix: z.string().min(1).max(512) });

function parse<T>(schema: z.ZodType<T>, method: string, params: unknown): T {
  const p = schema.safeParse(params);
  if (!p.success)
    throw errors.invalidRequest(`${method} parameters`, `${p.error.issues[0]?.path.join('.') || 'params'}: ${p.error.issues[0]?.message ?? 'rejected'}`);
  return p.data;
}

/** The extension a file name gives (lower case), or '' when it has none. */
export function extensionOf(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  return dot > 0 && dot < fileName.length - 1 ? fileName.slice(dot + 1).toLowerCase() : '';
}

/**
 * The file store, in the local database (apps/local-store/migrations/0006_file_store.sql):
 *
 * - `file.putPart`, `file.commit`, `file.abort`: an upload arrives in parts of at most 1 MiB (each RPC stays small and
 *   fast); the commit puts them together under the file's md5 (checked again here, with the size and the number of
 *   parts) and records who uploaded it under which extension, in one transaction: a failed commit stores nothing.
 *   Storing the same content twice keeps one copy. Parts never committed are deleted after an hour.
 * - `file.get`, `file.read`: the size and type of `<md5>.<ext>`, then its content part by part, if the operator uploaded
 *   it, is an admin (rights read from xtk_operator, never from the request), or it was published; no operator:
 *   published files only (`/res/…`). Anything else reads as "no such file", the same answer as for an unknown one.
 * - `file.publish` (xtk:fileRes#PublishIfNeeded): publishes the file an xtk:fileRes record names, if it is not yet,
 *   when the operator uploaded that file or is an admin; sets the record's @published and @publishedUrl.
 * - `file.url` (xtk:fileRes#GetURL): the public URL of a published record's file.
 */
export function createFileRpcHandlers(deps: { pool: Pool; operatorRights: OperatorRightsLookup }): Record<string, RpcHandler> {
  const isAdmin = async (id: string | undefined) => (id ? (await deps.operatorRights({ operatorId: id })).rights.includes('admin') : false);

  const fileRes = async (name: string) => {
    const { rows } = await deps.pool.query<{ md5: string | null; file_name: string | null }>(
      'SELECT md5, file_name FROM xtk_file_res WHERE internal_name = $1',
      [name],
    );
    const row = rows[0];
    if (!row) throw appError(ErrorCatalogue.FILE_RES_UNKNOWN, { name: name.slice(0, 128) });
    return row;
  };

  /** The file if this operator may read it (see above), with one part of its content when asked; else FILE_NOT_FOUND. */
  const readable = async (p: { md5: string; ext: string; operatorId?: string | undefined }, part?: { offset: number; length: number }) => {
    const admin = await isAdmin(p.operatorId);
    const { rows } = await deps.pool.query<{ size: number; content_type: string; file_name: string | null; part: Buffer | null }>(
      `SELECT b.size, b.content_type,
              (SELECT u.file_name FROM cap_file_upload u WHERE u.md5 = b.md5 AND u.ext = $2 ORDER BY u.created DESC LIMIT 1) AS file_name,
              ${part ? 'substring(b.content FROM $5::int + 1 FOR $6::int)' : 'NULL::bytea'} AS part
         FROM cap_file_blob b
        WHERE b.md5 = $1
          AND (EXISTS (SELECT 1 FROM cap_file_published x WHERE x.md5 = b.md5 AND x.ext = $2)
               OR EXISTS (SELECT 1 FROM cap_file_upload u WHERE u.md5 = b.md5 AND u.ext = $2 AND ($3::bigint IS NOT NULL AND (u.operator_id = $3 OR $4))))`,
      [p.md5, p.ext, p.operatorId ?? null, admin, ...(part ? [part.offset, part.length] : [])],
    );
    const row = rows[0];
    if (!row) throw appError(ErrorCatalogue.FILE_NOT_FOUND, { file: `${p.md5}.${p.ext}` });
    return row;
  };

  return {
    'file.putPart': async (params) => {
      const p = parse(putPartParams, 'file.putPart', params);
      const bytes = Buffer.from(p.content, 'base64');
      if (bytes.length === 0 || bytes.length > FILE_PART_BYTES)
        throw errors.invalidRequest('file.putPart parameters', `a part holds 1 to ${FILE_PART_BYTES} bytes`);
      await deps.pool.query(
        'INSERT INTO cap_file_part (upload_id, seq, bytes) VALUES ($1, $2, $3) ON CONFLICT (upload_id, seq) DO UPDATE SET bytes = EXCLUDED.bytes',
        [p.uploadId, p.seq, bytes],
      );
      return { stored: bytes.length };
    },

    'file.commit': async (params) => {
      const p = parse(commitParams, 'file.commit', params);
      return withTransaction(deps.pool, async (client) => {
        // The parts are put together, and checked against the size and md5 the gateway computed, in PostgreSQL:
        // the whole file never sits in this process's memory.
        const existing = await client.query('SELECT 1 FROM cap_file_blob WHERE md5 = $1', [p.md5]);
        if (existing.rowCount === 0) {
          const { rows } = await client.query<{ parts: string; size: string | null; md5: string | null }>(
            `SELECT count(*)::text AS parts, sum(length(bytes))::text AS size, md5(string_agg(bytes, ''::bytea ORDER BY seq)) AS md5
               FROM cap_file_part WHERE upload_id = $1`,
            [p.uploadId],
          );
          const got = rows[0]!;
          if (Number(got.parts) !== p.parts || Number(got.size ?? 0) !== p.size || got.md5 !== p.md5)
            throw errors.invalidRequest('file.commit parameters', 'the parts stored do not make the file announced (count, size or md5)');
          await client.query(
            `INSERT INTO cap_file_blob (md5, content, size, content_type)
             SELECT $2, string_agg(bytes, ''::bytea ORDER BY seq), $3, $4 FROM cap_file_part WHERE upload_id = $1
             ON CONFLICT (md5) DO NOTHING`,
            [p.uploadId, p.md5, p.size, p.contentType],
          );
        }
        await client.query(
          `INSERT INTO cap_file_upload (md5, ext, operator_id, file_name) VALUES ($1, $2, $3, $4)
           ON CONFLICT (md5, ext, operator_id) DO UPDATE SET file_name = EXCLUDED.file_name, created = now()`,
          [p.md5, p.ext, p.operatorId, p.fileName],
        );
        await client.query(`DELETE FROM cap_file_part WHERE upload_id = $1 OR created < now() - interval '${STALE_PARTS}'`, [p.uploadId]);
        return { md5: p.md5, size: p.size };
      });
    },

    'file.abort': async (params) => {
      const p = parse(abortParams, 'file.abort', params);
      await deps.pool.query('DELETE FROM cap_file_part WHERE upload_id = $1', [p.uploadId]);
      return {};
    },

    'file.get': async (params) => {
      const p = parse(getParams, 'file.get', params);
      const row = await readable(p);
      return { size: row.size, contentType: row.content_type, fileName: row.file_name ?? `${p.md5}.${p.ext}` };
    },

    'file.read': async (params) => {
      const p = parse(readParams, 'file.read', params);
      const row = await readable(p, { offset: p.offset, length: p.length });
      return { content: (row.part ?? Buffer.alloc(0)).toString('base64') };
    },

    'file.publish': async (params) => {
      const p = parse(publishParams, 'file.publish', params);
      const row = await fileRes(p.internalName);
      const fileExt = extensionOf(row.file_name ?? '');
      if (!row.md5 || !/^[0-9a-f]{32}$/.test(row.md5) || fileExt === '')
        throw appError(ErrorCatalogue.FILE_RES_NOT_PUBLISHED, {
          name: p.internalName,
          why: 'the record names no uploaded file (md5 and a fileName with its extension)',
        });
      const url = `${p.urlPrefix}${row.md5}.${fileExt}`;
      const admin = await isAdmin(p.operatorId);
      return withTransaction(deps.pool, async (client) => {
        const published = await client.query('SELECT 1 FROM cap_file_published WHERE md5 = $1 AND ext = $2', [row.md5, fileExt]);
        if (published.rowCount === 0) {
          const mayPublish = await client.query('SELECT 1 FROM cap_file_upload WHERE md5 = $1 AND ext = $2 AND (operator_id = $3 OR $4) LIMIT 1', [
            row.md5,
            fileExt,
            p.operatorId,
            admin,
          ]);
          if (mayPublish.rowCount === 0)
            throw appError(ErrorCatalogue.FILE_RES_NOT_PUBLISHED, { name: p.internalName, why: 'its file was not uploaded by this operator' });
          await client.query('INSERT INTO cap_file_published (md5, ext) VALUES ($1, $2) ON CONFLICT DO NOTHING', [row.md5, fileExt]);
        }
        await client.query('UPDATE xtk_file_res SET published = true, published_url = $2, last_modified = now() WHERE internal_name = $1', [
          p.internalName,
          url,
        ]);
        return { url };
      });
    },

    'file.url': async (params) => {
      const p = parse(urlParams, 'file.url', params);
      const row = await fileRes(p.internalName);
      const fileExt = extensionOf(row.file_name ?? '');
      const { rowCount } = await deps.pool.query('SELECT 1 FROM cap_file_published WHERE md5 = $1 AND ext = $2', [row.md5 ?? '', fileExt]);
      // The URL is made from what was published, never read from @publishedUrl (a Write may set any text there).
      if (!rowCount) throw appError(ErrorCatalogue.FILE_RES_NOT_PUBLISHED, { name: p.internalName, why: 'call PublishIfNeeded first' });
      return { url: `${p.urlPrefix}${row.md5!}.${fileExt}` };
    },
  };
}
