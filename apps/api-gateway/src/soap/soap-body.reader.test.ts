import { request as httpRequest, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import express, { type NextFunction, type Request, type Response } from 'express';
import { soapBodyReader } from './soap-body.reader';

const LIMIT = 64;
let server: Server;
let port: number;

beforeAll(async () => {
  const app = express();
  app.post('/', soapBodyReader(LIMIT), (req: Request, res: Response) => {
    res.json({ body: req.body });
  });
  app.use((err: { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).json({ error: err.type });
  });
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends `chunks` (one write each, chunked encoding unless a content-length is given) on a fresh connection. */
function post(chunks: Buffer[], headers: Record<string, string>): Promise<{ status: number; json: { body?: string; error?: string } }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/', headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as { body?: string; error?: string } }));
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('soapBodyReader', () => {
  it('reads a UTF-8 body sent in several chunks, multi-byte characters split across them included', async () => {
    const bytes = Buffer.from('<a>héllo ✓</a>', 'utf8');
    const split = bytes.indexOf(0xa9); // inside the two bytes of "é"
    const res = await post([bytes.subarray(0, split), bytes.subarray(split)], { 'content-type': 'text/xml; charset=utf-8' });
    expect(res).toEqual({ status: 200, json: { body: '<a>héllo ✓</a>' } });
  });

  it('decodes another declared charset (ISO-8859-1) through express.text', async () => {
    const res = await post([Buffer.from('<a>caf\u00e9</a>', 'latin1')], { 'content-type': 'application/soap+xml; charset=ISO-8859-1' });
    expect(res).toEqual({ status: 200, json: { body: '<a>café</a>' } });
  });

  it('inflates a gzip body through express.text', async () => {
    const res = await post([gzipSync(Buffer.from('<a>zipped</a>'))], { 'content-type': 'text/xml', 'content-encoding': 'gzip' });
    expect(res).toEqual({ status: 200, json: { body: '<a>zipped</a>' } });
  });

  it('reads a body with no content type at all', async () => {
    const res = await post([Buffer.from('<a/>')], {});
    expect(res).toEqual({ status: 200, json: { body: '<a/>' } });
  });

  it('refuses a body whose declared length is over the limit with entity.too.large (413)', async () => {
    const body = Buffer.alloc(LIMIT + 1, 0x61);
    const res = await post([body], { 'content-type': 'text/xml', 'content-length': String(body.length) });
    expect(res).toEqual({ status: 413, json: { error: 'entity.too.large' } });
  });

  it('refuses a chunked body that grows over the limit with entity.too.large (413)', async () => {
    const res = await post([Buffer.alloc(40, 0x61), Buffer.alloc(40, 0x62)], { 'content-type': 'text/xml' });
    expect(res).toEqual({ status: 413, json: { error: 'entity.too.large' } });
  });
});
