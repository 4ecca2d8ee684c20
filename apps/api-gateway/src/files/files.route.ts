import { createHash, randomUUID } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { SERVICES } from '@cap/contracts';
import { appError, ErrorCatalogue, isAppError } from '@cap/platform-errors';
import type { Logger } from '@cap/platform-logger';
import type { Downstreams } from '../downstream.client';
import type { Authenticator } from '../session/authenticator';
import { checkContent, checkFileName, multipartBoundary, parseMultipartFile } from './file-content';
import { describeFailure, identifyHttpOperator, isRefused, sendHttpError } from './http-operator';
import { createGate } from './transfer.gate';

export const UPLOAD_PATH = '/nl/jsp/uploadFile.jsp';
export const DOWNLOAD_PATH = '/nl/jsp/downloadFile.jsp';
export const AEM_ASSET_PATH = '/nms/aemAssetDownload.jssp';

/** Bytes per RPC between the gateway and local-store (the store's part size, apps/local-store/src/files). */
const FILE_PART_BYTES = 1024 * 1024;

/** How long one upload's body may take to arrive. */
export const FILE_READ_TIMEOUT_MS = 60_000;

/** Room for the multipart framing and other form fields around the file itself. */
const FORM_OVERHEAD_BYTES = 64 * 1024;

const MD5 = /^[0-9a-f]{32}$/;
const EXT = /^[a-z0-9]{1,16}$/;
const CONTENT_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}(;\s*charset=[a-z0-9_-]{1,32})?$/i;

/**
 * File transfers one gateway runs at once, and how many may wait for a turn. An upload holds its whole file (read
 * before it is checked) and one 1 MiB part in transit; a download one part. A waiting upload is not read until its
 * turn, so memory stays within FILE_TRANSFERS_AT_ONCE × FILE_MAX_BYTES whatever the number of clients.
 */
export const FILE_TRANSFERS_AT_ONCE = 4;
export const FILE_TRANSFERS_WAITING = 64;

/** What the served files carry: never sniffed, never run as a page of this origin. */
function protect(res: Response, cache: string): void {
  res.set('X-Content-Type-Options', 'nosniff');
  res.set('Content-Security-Policy', "default-src 'none'; sandbox");
  res.set('Cache-Control', cache);
}

/** A header-safe file name for Content-Disposition: ASCII fallback plus the RFC 5987 UTF-8 form. */
function attachment(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}

/**
 * Reads the request body up to `limit` bytes. Past it, or past FILE_READ_TIMEOUT_MS, the reading stops (the
 * connection is closed after the answer): memory per upload is bounded by the limit, whatever the client sends.
 */
function readBounded(req: Request, limit: number): Promise<Buffer | 'too-large' | 'too-slow'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (value: Buffer | 'too-large' | 'too-slow') => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off('data', onData);
      if (typeof value === 'string') chunks.length = 0;
      resolve(value);
    };
    // A client that sends slowly holds a transfer slot: it gets FILE_READ_TIMEOUT_MS for the whole body.
    const timer = setTimeout(() => {
      req.pause();
      finish('too-slow');
    }, FILE_READ_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        finish('too-large');
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => finish(Buffer.concat(chunks, size)));
    // A client gone before the end frees its transfer slot at once.
    req.once('close', () => {
      if (!req.complete) finish('too-slow');
    });
    req.once('error', (err) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        reject(err);
      }
    });
  });
}

/**
 * The file pages Adobe's SDK calls (docs/files-and-reports.md):
 *
 * - `POST /nl/jsp/uploadFile.jsp` (fileUploader.upload): a multipart form with one file part (the SDK's field is
 *   `file_noMd5`), at most FILE_MAX_BYTES, checked (name, type, content policy) and kept by local-store under its
 *   md5. Answers `Ok` and the script Campaign's page answers, calling the SDK's `uploadFileCallBack` with
 *   `[{ fileName, md5 }]`; `?format=json` gets `{ fileName, md5, size, contentType }` instead.
 * - `GET /nl/jsp/downloadFile.jsp?md5=&ext=[&fileName=][&contentType=]` (fileUploader.download): the bytes of a file
 *   this operator uploaded, an admin, or a published one.
 * - `GET /res/<instance>/<md5>.<ext>`: a published file (xtk:fileRes#PublishIfNeeded), to anyone: the URL GetURL gives.
 * - `POST /nms/aemAssetDownload.jssp` (fileUploader.uploadAemAsset): 501, there is no AEM here.
 *
 * Uploads and downloads are for authenticated operators only.
 */
export function createFilesRouter(deps: {
  downstreams: Downstreams;
  authenticator: Authenticator;
  logger: Logger;
  maxFileBytes: number;
  instanceName: string;
}): Router {
  const router = Router();
  const gate = createGate(FILE_TRANSFERS_AT_ONCE, FILE_TRANSFERS_WAITING);
  const unavailable = (res: Response, err: unknown, what: string) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (isAppError(err) && err.httpStatus >= 400 && err.httpStatus < 500 && !err.code.startsWith('CAP-')) return sendHttpError(res, err);
    deps.logger.warn({ event: 'files.failed', what, err: describeFailure(err) }, 'file page failed');
    res
      .status(503)
      .set('Cache-Control', 'no-store')
      .type('text/plain')
      .send(`The file store is not available now${isAppError(err) ? ` (${err.code})` : ''}; retry later\n`);
  };

  router.post(UPLOAD_PATH, async (req, res) => {
    const caller = await identifyHttpOperator(deps, req, res);
    if (isRefused(caller)) return;
    const leave = await gate.enter();
    if (!leave) {
      res.set({ Connection: 'close', 'Retry-After': '1' });
      return sendHttpError(res, appError(ErrorCatalogue.FILE_TRANSFERS_BUSY, {}));
    }
    try {
      await receive(req, res, caller.operator.id);
    } finally {
      leave();
    }
  });

  /** Sends the content to local-store in parts of FILE_PART_BYTES, then commits it; on failure the parts are dropped. */
  const store = async (content: Buffer, meta: { md5: string; ext: string; operatorId: string; fileName: string; contentType: string }) => {
    if (content.length === 0) throw appError(ErrorCatalogue.FILE_UPLOAD_MALFORMED, { why: 'the file is empty' });
    const uploadId = randomUUID();
    const parts = Math.ceil(content.length / FILE_PART_BYTES);
    try {
      for (let seq = 0; seq < parts; seq++) {
        const part = content.subarray(seq * FILE_PART_BYTES, (seq + 1) * FILE_PART_BYTES);
        await deps.downstreams.call(SERVICES.localStore, 'file.putPart', { uploadId, seq, content: part.toString('base64') });
      }
      await deps.downstreams.call(SERVICES.localStore, 'file.commit', { uploadId, parts, size: content.length, ...meta });
    } catch (err) {
      void deps.downstreams.call(SERVICES.localStore, 'file.abort', { uploadId }).catch(() => undefined);
      throw err;
    }
  };

  const receive = async (req: Request, res: Response, operatorId: string) => {
    const tooLarge = () => appError(ErrorCatalogue.FILE_TOO_LARGE, { limit: deps.maxFileBytes });
    const limit = deps.maxFileBytes + FORM_OVERHEAD_BYTES;
    try {
      const boundary = multipartBoundary(req.get('content-type'));
      const declared = Number(req.get('content-length') ?? NaN);
      if (Number.isFinite(declared) && declared > limit) {
        res.set('Connection', 'close');
        return sendHttpError(res, tooLarge());
      }
      const body = await readBounded(req, limit);
      if (typeof body === 'string') {
        res.set('Connection', 'close');
        if (body === 'too-large') return sendHttpError(res, tooLarge());
        return sendHttpError(
          res,
          appError(ErrorCatalogue.FILE_UPLOAD_MALFORMED, { why: `the body did not arrive within ${FILE_READ_TIMEOUT_MS / 1000} s` }),
          408,
        );
      }
      const file = parseMultipartFile(body, boundary);
      if (file.content.length > deps.maxFileBytes) return sendHttpError(res, tooLarge());
      const ext = checkFileName(file.fileName);
      const { contentType } = checkContent(file.content, ext, file.declaredType);
      const md5 = createHash('md5').update(file.content).digest('hex');
      await store(file.content, { md5, ext, operatorId, fileName: file.fileName, contentType });
      res.set('Cache-Control', 'no-store');
      if (req.query['format'] === 'json') {
        res.json({ fileName: file.fileName, md5, size: file.content.length, contentType });
        return;
      }
      // What Campaign's page answers: "Ok", then the script that hands the result to the SDK's controller. Every
      // value is JSON with `<`, `>`, `&` and the line separators escaped, so none can close the script.
      const data = JSON.stringify([{ paramName: file.field, fileName: file.fileName, md5 }]).replace(
        /[<>&\u2028\u2029]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
      );
      res
        .type('text/html')
        .set('X-Content-Type-Options', 'nosniff')
        .send(
          `Ok\n<script type="text/javascript">var d=${data};if(window.parent&&window.parent.document.controller)window.parent.document.controller.uploadFileCallBack(d);</script>\n`,
        );
    } catch (err) {
      if (isAppError(err) && err.code !== ErrorCatalogue.FILE_TOO_LARGE.code && !req.complete) res.set('Connection', 'close');
      unavailable(res, err, 'upload');
    }
  };

  const serve = async (
    res: Response,
    params: { md5: string; ext: string; operatorId?: string },
    options: { fileName?: string; contentType?: string; cache: string },
  ) => {
    const leave = await gate.enter();
    if (!leave) {
      res.set('Retry-After', '1');
      return sendHttpError(res, appError(ErrorCatalogue.FILE_TRANSFERS_BUSY, {}));
    }
    try {
      await send(res, params, options);
    } finally {
      leave();
    }
  };
  /** Streams the file part by part (FILE_PART_BYTES at a time, waiting for the client to take each). */
  const send = async (
    res: Response,
    params: { md5: string; ext: string; operatorId?: string },
    options: { fileName?: string; contentType?: string; cache: string },
  ) => {
    const file = await deps.downstreams.call<{ size: number; contentType: string; fileName: string }>(SERVICES.localStore, 'file.get', params);
    protect(res, options.cache);
    res.type(options.contentType ?? file.contentType);
    res.set('Content-Length', String(file.size));
    if (options.fileName !== undefined) res.set('Content-Disposition', attachment(options.fileName));
    for (let offset = 0; offset < file.size; offset += FILE_PART_BYTES) {
      let part: Buffer;
      try {
        const read = await deps.downstreams.call<{ content: string }>(SERVICES.localStore, 'file.read', { ...params, offset, length: FILE_PART_BYTES });
        part = Buffer.from(read.content, 'base64');
      } catch (err) {
        if (offset === 0) throw err;
        // Headers are sent: the only honest signal left is a cut connection (the length will not match).
        deps.logger.warn({ event: 'files.failed', what: 'download part', err: describeFailure(err) }, 'file download cut');
        res.destroy();
        return;
      }
      if (part.length === 0) break;
      if (!res.write(part)) await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
      if (res.destroyed) return;
    }
    res.end();
  };

  router.get(DOWNLOAD_PATH, async (req, res) => {
    const caller = await identifyHttpOperator(deps, req, res);
    if (isRefused(caller)) return;
    const q = (name: string) => (typeof req.query[name] === 'string' ? (req.query[name] as string) : undefined);
    const md5 = (q('md5') ?? '').toLowerCase();
    const ext = (q('ext') ?? '').toLowerCase();
    const fileName = q('fileName');
    const contentType = q('contentType');
    if (!MD5.test(md5) || !EXT.test(ext))
      return sendHttpError(res, appError(ErrorCatalogue.FILE_NOT_FOUND, { file: `${md5.slice(0, 40)}.${ext.slice(0, 16)}` }));
    if (fileName !== undefined && fileName !== md5) {
      try {
        checkFileName(fileName.includes('.') ? fileName : `${fileName}.${ext}`);
      } catch (err) {
        return unavailable(res, err, 'download');
      }
    }
    if (contentType !== undefined && contentType !== '' && !CONTENT_TYPE.test(contentType))
      return sendHttpError(res, appError(ErrorCatalogue.FILE_UPLOAD_MALFORMED, { why: 'contentType is not a MIME type' }));
    try {
      await serve(
        res,
        { md5, ext, operatorId: caller.operator.id },
        { cache: 'private, no-store', ...(fileName !== undefined && fileName !== md5 ? { fileName } : {}), ...(contentType ? { contentType } : {}) },
      );
    } catch (err) {
      unavailable(res, err, 'download');
    }
  });

  router.get('/res/:instance/:file', async (req, res) => {
    const match = /^([0-9a-f]{32})\.([a-z0-9]{1,16})$/.exec(req.params.file ?? '');
    if (req.params.instance !== deps.instanceName || !match)
      return sendHttpError(res, appError(ErrorCatalogue.FILE_NOT_FOUND, { file: String(req.params.file ?? '').slice(0, 60) }));
    try {
      await serve(res, { md5: match[1]!, ext: match[2]! }, { cache: 'public, max-age=3600' });
    } catch (err) {
      unavailable(res, err, 'resource');
    }
  });

  router.all(AEM_ASSET_PATH, (_req, res) => sendHttpError(res, appError(ErrorCatalogue.AEM_NOT_AVAILABLE, {})));
  return router;
}
