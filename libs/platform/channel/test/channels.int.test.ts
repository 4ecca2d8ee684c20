import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '@cap/platform-logger';
import { startSmtpSink } from '@cap/platform-testing';
import { createFileChannel, createSmtpChannel, type OutboundMessage } from '../src/index';

const quiet = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

const message = (id: string, to: string): OutboundMessage => ({
  id,
  kind: 'email',
  to,
  from: 'news@example.com',
  subject: `Subject ${id}`,
  body: `<p>Body ${id}</p>`,
  meta: { deliveryId: '7' },
});

describe('channel adapters', () => {
  it('when the file channel sends a batch, then one JSON line per message lands in <dir>/<key>.jsonl, and a resent batch replaces its file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cap-file-channel-'));
    try {
      const channel = createFileChannel({ dir });
      expect(await channel.send({ key: 'dlv-7-a', messages: [message('a', 'a@example.com'), message('b', 'b@example.com')] })).toEqual([
        { status: 'sent' },
        { status: 'sent' },
      ]);
      await channel.send({ key: 'dlv-7-a', messages: [message('a', 'a@example.com'), message('b', 'b@example.com')] });
      expect(await readdir(dir)).toEqual(['dlv-7-a.jsonl']);
      const lines = (await readFile(join(dir, 'dlv-7-a.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines).toEqual([
        expect.objectContaining({ id: 'a', to: 'a@example.com', subject: 'Subject a', body: '<p>Body a</p>', meta: { deliveryId: '7' } }),
        expect.objectContaining({ id: 'b', to: 'b@example.com' }),
      ]);
      await expect(channel.send({ key: '../escape', messages: [] })).rejects.toThrow('cannot name a batch file');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('when the file channel cannot create its directory, then that batch fails and a later one succeeds once it can', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'cap-file-channel-'));
    try {
      // A regular file where a directory of the path should be: mkdir fails (ENOTDIR) until it is removed.
      await writeFile(join(parent, 'blocked'), 'not a directory');
      const channel = createFileChannel({ dir: join(parent, 'blocked', 'out') });
      await expect(channel.send({ key: 'dlv-1', messages: [message('a', 'a@example.com')] })).rejects.toMatchObject({ code: 'ENOTDIR' });
      await rm(join(parent, 'blocked'));
      expect(await channel.send({ key: 'dlv-1', messages: [message('a', 'a@example.com')] })).toEqual([{ status: 'sent' }]);
      expect(await readdir(join(parent, 'blocked', 'out'))).toEqual(['dlv-1.jsonl']);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('when the SMTP channel sends to a real SMTP server, then accepted mail arrives, 550 is a permanent failure and 451 a temporary one', async () => {
    const smtp = await startSmtpSink();
    const channel = createSmtpChannel({ url: `smtp://127.0.0.1:${smtp.port}`, poolMax: 3, timeoutMs: 2_000, logger: quiet });
    try {
      const outcomes = await channel.send({
        key: 'k',
        messages: [message('1', 'ann@example.com'), message('2', 'nobody@reject.test'), message('3', 'busy@temp.test'), message('4', 'bob@example.com')],
      });
      expect(outcomes[0]).toEqual({ status: 'sent' });
      expect(outcomes[1]).toMatchObject({ status: 'failed', permanent: true, kind: 'unknownUser' });
      expect(outcomes[2]).toMatchObject({ status: 'failed', permanent: false, kind: 'refused' });
      expect(outcomes[3]).toEqual({ status: 'sent' });
      expect(smtp.received.map((r) => r.to[0]).sort()).toEqual(['ann@example.com', 'bob@example.com']);
      const ann = smtp.received.find((r) => r.to[0] === 'ann@example.com')!;
      expect(ann.from).toBe('news@example.com');
      expect(ann.data).toContain('Subject: Subject 1');
      expect(ann.data).toMatch(/^X-Cap-Message-ID: 1\r?$/im);
      expect(ann.data).toMatch(/^X-Cap-Deliveryid: 7\r?$/im);
      expect(ann.data).toContain('<p>Body 1</p>');
    } finally {
      await channel.close();
      await smtp.close();
    }
  });

  it('when the SMTP server is gone, then messages fail as temporary and the breaker opens so later ones fail fast', async () => {
    const smtp = await startSmtpSink();
    await smtp.close();
    const channel = createSmtpChannel({
      url: `smtp://127.0.0.1:${smtp.port}`,
      poolMax: 2,
      timeoutMs: 1_000,
      logger: quiet,
      breaker: { volumeThreshold: 2, resetTimeoutMs: 60_000 },
    });
    try {
      const first = await channel.send({ key: 'k', messages: [message('1', 'a@example.com'), message('2', 'b@example.com'), message('3', 'c@example.com')] });
      for (const o of first) expect(o).toMatchObject({ status: 'failed', permanent: false, kind: 'unreachable' });
      await expect(channel.check!()).rejects.toThrow('circuit breaker is open');
      const started = Date.now();
      const [later] = await channel.send({ key: 'k', messages: [message('4', 'd@example.com')] });
      expect(later).toMatchObject({ status: 'failed', permanent: false, message: expect.stringContaining('circuit breaker is open') });
      expect(Date.now() - started).toBeLessThan(500);
    } finally {
      await channel.close();
    }
  });
});
