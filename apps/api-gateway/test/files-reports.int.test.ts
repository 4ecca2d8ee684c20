import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import pg from 'pg';
import { failure, sdkLogon, startTestPlatform, uniqueId, type CampaignException, type SdkClient, type TestPlatform } from '@cap/platform-testing';

const MAX_FILE_BYTES = 64 * 1024;
const JWT_SECRET = 'test-secret-for-files-and-reports-0123456789';

/**
 * The HTTP pages Adobe's SDK calls besides the SOAP router (docs/files-and-reports.md): uploadFile.jsp and
 * downloadFile.jsp with the xtk:fileRes record the SDK writes and publishes, /report/<name> for getReportData, and
 * the AEM asset page there is no AEM behind. Through the unmodified SDK where it makes the call, and raw HTTP for
 * what a hostile client sends.
 */
describe('files, report data and AEM assets over HTTP', () => {
  let platform: TestPlatform;
  let admin: SdkClient;
  let mc: SdkClient;
  let local: pg.Pool;
  let cloud: pg.Pool;

  beforeAll(async () => {
    platform = await startTestPlatform({
      apps: ['local-store', 'cloud-executor', 'api-gateway'],
      envFor: { 'api-gateway': { FILE_MAX_BYTES: String(MAX_FILE_BYTES), JWT_SECRET } },
    });
    admin = await sdkLogon(platform.gatewayUrl, 'admin', 'admin');
    mc = await sdkLogon(platform.gatewayUrl, 'mc', 'mc');
    local = new pg.Pool({ connectionString: platform.localDb.url, max: 2 });
    cloud = new pg.Pool({ connectionString: platform.cloudDb.url, max: 2 });
  });

  afterAll(async () => {
    await local?.end();
    await cloud?.end();
    await platform?.stop();
  });

  /** The SDK's exception, with what its file and report calls add: the wrapped HTTP error and the whole message. */
  const failed = async (p: Promise<unknown>) => (await failure(p)) as CampaignException & { detail: { statusCode: number }; message: string };
  const authHeaders = (client: SdkClient): Record<string, string> => client._getAuthHeaders(false);
  const md5 = (bytes: Buffer | string) => createHash('md5').update(bytes).digest('hex');
  const blobCount = async () => Number((await local.query<{ n: string }>('SELECT count(*)::text AS n FROM cap_file_blob')).rows[0]!.n);

  /** A raw upload as a browser form would send it: one file part named like the SDK's. */
  const upload = async (
    client: SdkClient | undefined,
    name: string,
    content: Buffer | string,
    type = 'application/octet-stream',
    headers: Record<string, string> = {},
    query = '',
  ) => {
    const form = new FormData();
    form.append('file_noMd5', new Blob([content], { type }), name);
    const res = await fetch(`${platform.gatewayUrl}/nl/jsp/uploadFile.jsp${query}`, {
      method: 'POST',
      body: form,
      headers: { ...(client ? authHeaders(client) : {}), ...headers },
    });
    return { status: res.status, text: await res.text() };
  };
  const rawUpload = async (body: string | Buffer, contentType: string, client: SdkClient = admin) => {
    const res = await fetch(`${platform.gatewayUrl}/nl/jsp/uploadFile.jsp`, {
      method: 'POST',
      body,
      headers: { ...authHeaders(client), 'Content-Type': contentType },
    });
    return { status: res.status, text: await res.text() };
  };

  /**
   * Runs the SDK's own fileUploader.upload, which only runs in a browser: `window` exists while it checks, and the
   * hidden iframe it writes the page's answer into runs that answer's script against the SDK's `document.controller`.
   */
  const sdkUpload = async (client: SdkClient, file: File, prefix: string): Promise<{ name: string; md5: string; url?: string }> => {
    const g = globalThis as Record<string, unknown>;
    const fakeDocument: Record<string, unknown> = {
      createElement: () => {
        const iframeWindow = { parent: { document: fakeDocument } };
        return {
          style: {},
          contentWindow: {
            document: {
              open: () => undefined,
              close: () => undefined,
              write: (html: string) => {
                const script = /<script[^>]*>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
                new Function('window', script)(iframeWindow);
              },
            },
          },
        };
      },
      body: { appendChild: () => undefined },
    };
    g['window'] = {};
    g['document'] = fakeDocument;
    try {
      const pending = client.fileUploader.upload(file, { action: 'publishIfNeeded' }, prefix);
      delete g['window']; // only the first check needs it
      return await pending;
    } finally {
      delete g['window'];
      delete g['document'];
    }
  };

  it('when an operator uploads with the SDK, then the answer hands back name and md5, the xtk:fileRes is written and published, its URL serves the bytes, and download returns them', async () => {
    const csv = `id,name\n1,${uniqueId('row')}\n`;
    const result = await sdkUpload(admin, new File([csv], 'contacts.csv', { type: 'text/csv' }), 'TST');
    expect(result.name).toBe('contacts.csv');
    expect(result.md5).toBe(md5(csv));
    expect(result.url).toMatch(new RegExp(`/res/cap/${result.md5}\\.csv$`));

    const { rows } = await local.query<{ internal_name: string; md5: string; published: boolean; published_url: string }>(
      'SELECT internal_name, md5, published, published_url FROM xtk_file_res WHERE md5 = $1',
      [result.md5],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ md5: result.md5, published: true, published_url: result.url });
    expect(rows[0]!.internal_name).toMatch(/^TST_[0-9a-f-]{36}$/);

    const publicRes = await fetch(result.url!);
    expect(publicRes.status).toBe(200);
    expect(publicRes.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await publicRes.text()).toBe(csv);

    // The SDK's download (node path), and by another operator: a published file is readable by any operator.
    expect(await admin.fileUploader.download(result.md5, 'csv', { fileName: 'My contacts.csv' })).toBe(csv);
    expect(await mc.fileUploader.download(result.md5, 'csv')).toBe(csv);
    const getUrl = await admin.NLWS.xtkFileRes.create({ internalName: rows[0]!.internal_name }).getURL();
    expect(getUrl).toBe(result.url);
  });

  it('when a binary file is uploaded raw, then JSON answers its md5 and downloadFile.jsp returns the same bytes to its uploader', async () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(uniqueId('png'))]);
    const res = await upload(admin, 'logo.png', png, 'image/png', {}, '?format=json');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ fileName: 'logo.png', md5: md5(png), size: png.length, contentType: 'image/png' });
    const download = await fetch(`${platform.gatewayUrl}/nl/jsp/downloadFile.jsp?md5=${md5(png)}&ext=png`, { headers: authHeaders(admin) });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await download.arrayBuffer()).equals(png)).toBe(true);
  });

  it("when an operator downloads another operator's unpublished file or an unknown one, then both get the same 404, and it cannot publish that file", async () => {
    const secret = `secret,${uniqueId('s')}\n`;
    const res = await upload(admin, 'secret.csv', secret, 'text/csv');
    expect(res.status).toBe(200);
    expect(res.text.startsWith('Ok')).toBe(true);
    const other = await failed(mc.fileUploader.download(md5(secret), 'csv'));
    const unknown = await failed(mc.fileUploader.download(md5('nothing here'), 'csv'));
    // The SDK wraps the page's answer (SDK-000018) around the HTTP error it got.
    for (const err of [other, unknown]) {
      expect(err.errorCode).toBe('SDK-000018');
      expect(err.detail.statusCode).toBe(404);
      expect(err.message).toContain('XTK-170405');
    }
    // The file under another extension is another file.
    expect((await failed(admin.fileUploader.download(md5(secret), 'txt'))).detail.statusCode).toBe(404);
    // mc writes a record naming admin's file and asks to publish it: refused, nothing public.
    const internalName = uniqueId('MC').replace(/[^A-Za-z0-9_]/g, '_');
    await mc.NLWS.xtkSession.write({ xtkschema: 'xtk:fileRes', internalName, md5: md5(secret), fileName: 'secret.csv', storageType: 5 });
    const refused = await failed(mc.NLWS.xtkFileRes.create({ internalName }).publishIfNeeded());
    expect(refused.errorCode).toBe('XTK-170408');
    expect((await failed(mc.NLWS.xtkFileRes.create({ internalName }).getURL())).errorCode).toBe('XTK-170408');
    expect((await fetch(`${platform.gatewayUrl}/res/cap/${md5(secret)}.csv`)).status).toBe(404);
    expect((await failed(mc.NLWS.xtkFileRes.create({ internalName: 'NO_SUCH_RES' }).publishIfNeeded())).errorCode).toBe('XTK-170407');
  });

  it('when the caller has no session or a forged one, then upload and download answer 401 and store nothing', async () => {
    const before = await blobCount();
    const none = await upload(undefined, 'a.csv', 'a,b\n');
    expect(none.status).toBe(401);
    expect(none.text).toContain('XTK-170406');
    const forged = await upload(undefined, 'a.csv', 'a,b\n', 'text/csv', { 'X-Session-Token': 'forged-token', 'X-Security-Token': 'forged' });
    expect(forged.status).toBe(401);
    expect(forged.text).toContain('XSV-350008');
    expect((await fetch(`${platform.gatewayUrl}/nl/jsp/downloadFile.jsp?md5=${md5('x')}&ext=csv`)).status).toBe(401);
    expect(await blobCount()).toBe(before);
  });

  it('when a file is larger than FILE_MAX_BYTES, with or without Content-Length, then it is cut at the limit with 413, nothing is stored, and the gateway still answers', async () => {
    const before = await blobCount();
    const big = await upload(admin, 'big.csv', 'x'.repeat(MAX_FILE_BYTES + 1), 'text/csv');
    expect(big.status).toBe(413);
    expect(big.text).toContain('XTK-170400');
    // A chunked body with no Content-Length that would go on for 64 MiB: the reading stops at the limit.
    let sent = 0;
    const boundary = 'cut-at-the-limit';
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`--${boundary}\r\nContent-Disposition: form-data; name="file_noMd5"; filename="huge.csv"\r\n\r\n`));
      },
      pull(controller) {
        if (sent >= 64 * 1024 * 1024) return controller.close();
        sent += 65536;
        controller.enqueue(new Uint8Array(65536).fill(0x61));
      },
    });
    const started = Date.now();
    const res = await fetch(`${platform.gatewayUrl}/nl/jsp/uploadFile.jsp`, {
      method: 'POST',
      body: stream,
      headers: { ...authHeaders(admin), 'Content-Type': `multipart/form-data; boundary=${boundary}` },
      duplex: 'half',
    } as RequestInit).catch((err: unknown) => ({ status: -1, text: async () => String(err) }));
    // Either the 413 arrives or the connection is closed under the sender; never the whole 64 MiB read.
    if (res.status !== -1) {
      expect(res.status).toBe(413);
      expect(await res.text()).toContain('XTK-170400');
    }
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(await blobCount()).toBe(before);
    expect(await admin.NLWS.xtkSession.getServerTime()).toBeTruthy();
  });

  it('when another gateway replica takes eight 8 MiB uploads at once, then all are stored, its memory stays bounded, and the first gateway serves each file', async () => {
    const replica = await platform.startReplica('api-gateway', { FILE_MAX_BYTES: String(8 * 1024 * 1024) });
    await replica.waitUntilReady();
    const rssMb = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${replica.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    const client = await sdkLogon(replica.url, 'admin', 'admin');
    const files = Array.from({ length: 8 }, () => Buffer.concat([Buffer.from('DATA'), randomBytes(8 * 1024 * 1024 - 4)]));
    let peak = rssMb();
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 50);
    const started = Date.now();
    const answers = await Promise.all(
      files.map(async (content, i) => {
        const form = new FormData();
        form.append('file_noMd5', new Blob([content]), `part${i}.dat`);
        const res = await fetch(`${replica.url}/nl/jsp/uploadFile.jsp?format=json`, { method: 'POST', body: form, headers: authHeaders(client) });
        return { status: res.status, body: await res.text() };
      }),
    );
    clearInterval(sampler);
    const elapsed = Date.now() - started;
    process.stdout.write(`8 x 8 MiB uploads on one replica: ${elapsed} ms, peak RSS ${peak.toFixed(0)} MB\n`);
    expect(answers.map((a) => a.status)).toEqual(files.map(() => 200));
    expect(peak).toBeLessThan(450);
    for (const content of files.slice(0, 2)) {
      const res = await fetch(`${platform.gatewayUrl}/nl/jsp/downloadFile.jsp?md5=${md5(content)}&ext=dat`, { headers: authHeaders(admin) });
      expect(res.status).toBe(200);
      expect(md5(Buffer.from(await res.arrayBuffer()))).toBe(md5(content));
    }
    expect((await replica.readyz()).status).toBe(200);
    await replica.stop();
  });

  it('when names hold paths or the content is an executable, script-bearing markup or not what it claims, then each is refused with its code and nothing is stored', async () => {
    const before = await blobCount();
    for (const name of ['../../etc/passwd.csv', 'a/b.csv', '..\\win.csv', 'x\u0000.csv', 'noextension', '..']) {
      const res = await upload(admin, name, 'a,b\n', 'text/csv');
      expect({ name, status: res.status, code: res.text.slice(0, 10) }).toEqual({ name, status: 400, code: 'XTK-170401' });
    }
    const refusedContent: [string, Buffer | string, string, string][] = [
      ['tool.png', Buffer.concat([Buffer.from('MZ'), Buffer.alloc(100, 1)]), 'image/png', 'XTK-170404'],
      ['run.exe', 'harmless text', 'application/octet-stream', 'XTK-170404'],
      ['page.html', '<html><body><script>alert(1)</script></body></html>', 'text/html', 'XTK-170404'],
      ['image.svg', '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', 'image/svg+xml', 'XTK-170404'],
      ['notes.txt', '<a href="javascript:alert(1)">x</a>', 'text/plain', 'XTK-170404'],
      ['doc.png', '%PDF-1.7\n...', 'image/png', 'XTK-170403'],
      ['photo.jpg', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]), 'application/octet-stream', 'XTK-170403'],
    ];
    for (const [name, content, type, code] of refusedContent) {
      const res = await upload(admin, name, content, type);
      expect({ name, status: res.status, code: res.text.slice(0, 10) }).toEqual({ name, status: 415, code });
    }
    expect(await blobCount()).toBe(before);
  });

  it('when the body is not a well-formed multipart form with one file, then it is refused with XTK-170402', async () => {
    const part = (name: string, file?: string) =>
      `--B\r\nContent-Disposition: form-data; name="${name}"${file ? `; filename="${file}"` : ''}\r\nContent-Type: text/csv\r\n\r\na,b\r\n`;
    const cases: [string, string][] = [
      ['a,b', 'text/csv'],
      ['a,b', 'multipart/form-data'],
      [`${part('f', 'a.csv')}`, 'multipart/form-data; boundary=B'],
      [`${part('f')}--B--\r\n`, 'multipart/form-data; boundary=B'],
      [`${part('f', 'a.csv')}${part('g', 'b.csv')}--B--\r\n`, 'multipart/form-data; boundary=B'],
      ['--B\r\nno header end--B--', 'multipart/form-data; boundary=B'],
      ['garbage without boundary', 'multipart/form-data; boundary=B'],
    ];
    for (const [body, type] of cases) {
      const res = await rawUpload(body, type);
      expect({ body, status: res.status, code: res.text.slice(0, 10) }).toEqual({ body, status: 400, code: 'XTK-170402' });
    }
    const ok = await rawUpload(`${part('label')}${part('file_noMd5', 'ok.csv')}--B--\r\n`, 'multipart/form-data; boundary=B');
    expect(ok.status).toBe(200);
  });

  it('when getReportData asks for deliveryFeedback on delivery ids, then the SDK reads the indicators as XML and as JSON; an unknown report is a 404 fault; anonymous callers get 401', async () => {
    const id = String(9_000_000_000 + Math.floor(Math.random() * 1_000_000));
    await cloud.query(
      `INSERT INTO cap_delivery_job (delivery_id, internal_name, template_name, definition, phase, state, targeted, excluded, to_deliver, processed, success, error, error_rendering)
       VALUES ($1, $2, 'tpl', '{"label":"Report <&> label"}', 'finished', 95, 10, 1, 9, 9, 7, 2, 1)`,
      [id, `DM${id}`],
    );
    const call = { reportName: 'deliveryFeedback', context: 'selection', schema: 'nms:delivery', selection: `${id}` };
    const json = await admin.getReportData(call, 'SimpleJson');
    expect(json).toMatchObject({ _context: 'selection', _reportContext: 'deliveryFeedback', _selection: id, _selectionCount: '1' });
    expect(json.data.delivery).toMatchObject({ id, label: 'Report <&> label', targeted: '10', success: '7', error: '2', errorRendering: '1' });
    const xml = await mc.getReportData({ ...call, formData: { from: '2020-01-01' } }, 'xml');
    expect(xml.documentElement.tagName).toBe('ctx');
    expect(xml.getElementsByTagName('delivery')[0].getAttribute('toDeliver')).toBe('9');

    const global = await admin.getReportData({ reportName: 'messageCenter', context: 'global', schema: '', selection: '' }, 'SimpleJson');
    expect(global.data.total).toMatchObject({ processed: expect.any(String) });

    // The SDK wraps the page's answer (SDK-000014) around the HTTP error it got.
    const unknown = await failed(admin.getReportData({ ...call, reportName: 'throughput' }));
    expect(unknown.errorCode).toBe('SDK-000014');
    expect(unknown.detail.statusCode).toBe(404);
    expect(unknown.message).toContain('XTK-170420');
    expect(unknown.message).toContain('deliveryFeedback, messageCenter');
    const badSelection = await failed(admin.getReportData({ ...call, selection: '1;DROP' }));
    expect(badSelection.detail.statusCode).toBe(400);
    expect(badSelection.message).toContain('XTK-170421');
    const anonymous = await fetch(`${platform.gatewayUrl}/report/deliveryFeedback?_context=global`, { method: 'POST' });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).toContain('XTK-170406');
  });

  it('when the SDK uploads an AEM asset, then it gets a 501 naming the missing AEM connection', async () => {
    const sdk = require('@adobe/acc-js-sdk');
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('admin')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(JWT_SECRET));
    const client = await sdk.init(sdk.ConnectionParameters.ofImsBearerToken(platform.gatewayUrl, token));
    await client.logon();
    const err = await failed(client.fileUploader.uploadAemAsset('https://aem.example.com/asset.png'));
    // The SDK keeps the reason phrase; the body starts with the code.
    const raw = await fetch(`${platform.gatewayUrl}/nms/aemAssetDownload.jssp`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    expect(raw.status).toBe(501);
    expect(await raw.text()).toMatch(/^XTK-170430 /);
    expect(err.errorCode).toBe('SDK-000017');
    expect(err.statusCode).toBe(501);
    expect(err.message).toContain('this platform has no AEM connection');
  });
});
