import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  sdkLogon,
  sdkSessionLogon,
  startSmtpSink,
  startTestPlatform,
  uniqueId,
  waitFor,
  type SdkClient,
  type SmtpSink,
  type TestPlatform,
} from '@cap/platform-testing';

/** nms:rtEvent:status */
const SENT = 2;
const FAILED = 3;
const IGNORED = 4;
const EXPIRED = 5;

/**
 * The message center end to end: PushEvent through the gateway (operator mc, `login/password` session token)
 * → local-store stores the event pending and its outbox row → messagecenter.event.created.v1 → cloud-executor
 * picks the template of the event type (an nms:delivery template with @eventType, replicated to the cloud DB),
 * renders it with the event's ctx, sends it (SMTP server or file channel), logs it (nms:broadLogEvent), counts
 * it (nms:eventStat) → messagecenter.event.status.v1 → local-store updates the event (@status, @processed).
 */
describe('the message center through the unmodified @adobe/acc-js-sdk', () => {
  let platform: TestPlatform;
  let smtp: SmtpSink;
  let outDir: string;
  let admin: SdkClient;
  let mc: SdkClient;
  let cloud: pg.Pool;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    outDir = await mkdtemp(join(tmpdir(), 'cap-mc-'));
    platform = await startTestPlatform({
      apps: ['local-store', 'cloud-executor', 'staging-sync', 'api-gateway'],
      envFor: {
        'cloud-executor': {
          CHANNEL_FILE_DIR: outDir,
          SMTP_URL: smtp.url,
          SMTP_TIMEOUT_MS: '3000',
          MC_MAX_ATTEMPTS: '3',
          MC_RETRY_DELAY_MS: '200',
          MC_RETRY_TICK_MS: '100',
        },
      },
    });
    admin = await sdkLogon(platform.gatewayUrl, 'admin', 'admin');
    mc = await sdkSessionLogon(platform.gatewayUrl, 'mc/mc');
    cloud = new pg.Pool({ connectionString: platform.cloudDb.url, max: 2 });
  });

  afterAll(async () => {
    await cloud?.end();
    await platform?.stop();
    await smtp?.close();
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  /** A message template for `eventType`, written with the SDK and waited for in the cloud DB. */
  const writeEventTemplate = async (eventType: string, fields: Record<string, unknown>): Promise<string> => {
    const internalName = uniqueId('MC').replace(/[^A-Za-z0-9_]/g, '_');
    await admin.NLWS.xtkSession.write({ xtkschema: 'nms:delivery', internalName, isModel: true, eventType, ...fields });
    const row = await waitFor(
      `template ${internalName} in the cloud DB`,
      async () => (await cloud.query('SELECT id::text FROM nms_delivery WHERE internal_name = $1', [internalName])).rows[0],
      { timeoutMs: 15_000 },
    );
    return row.id;
  };

  /** The event as queryDef on nms:rtEvent shows it, once its status is no longer pending. */
  /** The event's @id: the id PushEvent returns without the cell in its high byte (docs/deliveries.md). */
  const eventKey = (id: string) => (BigInt(id) & 0xffffffffffffffn).toString();
  const waitForEvent = (id: string, timeoutMs = 20_000) =>
    waitFor(
      `event ${id} processed`,
      async () => {
        const e = await admin.NLWS.xtkQueryDef
          .create({
            schema: 'nms:rtEvent',
            operation: 'get',
            select: { node: [{ expr: '@status' }, { expr: '@failureReason' }, { expr: '@processing' }, { expr: '@processed' }] },
            where: { condition: { expr: `@id = ${eventKey(id)}` } },
          })
          .executeQuery();
        return Number(e.status) !== 0 ? { ...e, status: Number(e.status) } : undefined;
      },
      { timeoutMs, intervalMs: 100 },
    );

  const queueDepth = async () => Number((await admin.mcPing()).eventQueueSize);

  it('when an event of a covered type is pushed, then its template is rendered with the ctx and sent, the event becomes Sent, and the log and statistics are queryable', async () => {
    const type = uniqueId('order').replace(/_/g, '');
    const templateId = await writeEventTemplate(type, {
      routing: 'smtp',
      mailParameters: { subject: 'Order <%= ctx.order.@id %> confirmed', senderAddress: 'shop@example.com' },
      $content: "<p>Hi <%= rtEvent.ctx.firstName %>, total <%= ctx.order.total %> for <%= ctx.order.item || 'your items' %></p>",
    });
    const id: string = await mc.NLWS.nmsRtEvent.pushEvent({
      type,
      email: 'ann@shop.example.com',
      ctx: { firstName: 'Ann <&>', order: { id: 'A-42', total: '9.90' } },
    });
    const event = await waitForEvent(id);
    expect(event.status).toBe(SENT);
    expect(event.processed).toBeTruthy();

    const mail = await waitFor('the mail at the SMTP server', () => smtp.received.find((m) => m.to[0] === 'ann@shop.example.com'));
    expect(mail.from).toBe('shop@example.com');
    expect(mail.data).toMatch(/^Subject: Order A-42 confirmed\r?$/m);
    expect(mail.data).toContain('<p>Hi Ann &lt;&amp;&gt;, total 9.90 for your items</p>');

    const log = await admin.NLWS.xtkQueryDef
      .create({
        schema: 'nms:broadLogEvent',
        operation: 'get',
        select: { node: [{ expr: '@status' }, { expr: '@eventType' }, { expr: '@address' }, { expr: '@attempts' }, { expr: '[delivery/@id]' }] },
        where: { condition: { expr: `@eventId = ${eventKey(id)} AND @queue = 'rtEvent'` } },
      })
      .executeQuery();
    expect(log).toMatchObject({ status: '1', eventType: type, address: 'ann@shop.example.com', attempts: '1', delivery: { id: templateId } });
    const stats = await admin.NLWS.xtkQueryDef
      .create({
        schema: 'nms:eventStat',
        operation: 'get',
        select: { node: [{ expr: '@processed' }, { expr: '@sent' }, { expr: '@failed' }] },
        where: { condition: { expr: `@eventType = '${type}'` } },
      })
      .executeQuery();
    expect(stats).toMatchObject({ processed: '1', sent: '1', failed: '0' });
  });

  it('when events have no template, fail to render, or their template is broken, then they become Ignored or Failed with the reason; the others of the same batch are Sent', async () => {
    const type = uniqueId('welcome').replace(/_/g, '');
    const broken = uniqueId('broken').replace(/_/g, '');
    await writeEventTemplate(type, { mailParameters: { subject: 'Welcome' }, $content: '<p>Welcome <%= ctx.firstName %></p>' });
    await writeEventTemplate(broken, { mailParameters: { subject: 'Broken' }, $content: '<p>Welcome <%= ctx.firstName </p>' });
    const ids: string[] = await mc.NLWS.nmsRtEvent
      .pushEvents({
        rtEvent: [
          { type, email: 'ok@file.example.com', ctx: { firstName: 'Ok' } },
          { type, email: 'noname@file.example.com', ctx: { lastName: 'NoFirst' } },
          { type: uniqueId('uncovered').replace(/_/g, ''), email: 'x@file.example.com', ctx: {} },
          { type: broken, email: 'broken@file.example.com', ctx: { firstName: 'B' } },
        ],
      })
      .then((r: { rtEvent: { id: string }[] }) => r.rtEvent.map((e) => e.id));
    const [ok, noName, uncovered, brokenTemplate] = await Promise.all(ids.map((id) => waitForEvent(id)));
    expect(brokenTemplate.status).toBe(FAILED);
    expect(brokenTemplate.failureReason).toMatch(/DLV-490004 personalisation of the content: '<%=' is not closed by '%>' \(line 1, column 12\)/);
    expect(ok.status).toBe(SENT);
    expect(noName.status).toBe(FAILED);
    expect(noName.failureReason).toMatch(/^Personalisation error: 'ctx.firstName' is not in the data of this message/);
    expect(uncovered.status).toBe(IGNORED);
    expect(uncovered.failureReason).toMatch(/^No message template covers the event type/);

    // The file channel (the template's default routing) wrote the one sent message.
    const lines = (await Promise.all((await readdir(outDir)).map((f) => readFile(join(outDir, f), 'utf8'))))
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.meta.eventType === type)).toEqual([
      expect.objectContaining({ to: 'ok@file.example.com', subject: 'Welcome', body: '<p>Welcome Ok</p>' }),
    ]);
  });

  it('when the channel fails for an event, then a temporary failure is retried and ends Expired after the last attempt, a permanent one is Failed at once', async () => {
    const type = uniqueId('retry').replace(/_/g, '');
    await writeEventTemplate(type, { routing: 'smtp', mailParameters: { subject: 'Hello' }, $content: '<p>Hello</p>' });
    const busy: string = await mc.NLWS.nmsRtEvent.pushEvent({ type, email: 'busy@temp.test', ctx: {} });
    const gone: string = await mc.NLWS.nmsRtEvent.pushEvent({ type, email: 'gone@reject.test', ctx: {} });
    const refused = await waitForEvent(gone);
    expect(refused.status).toBe(FAILED);
    expect(refused.failureReason).toContain('No such user');
    const expired = await waitForEvent(busy, 30_000);
    expect(expired.status).toBe(EXPIRED);
    expect(expired.failureReason).toMatch(/^Expired after 3 attempts; last error: .*try again later/);
    const log = (
      await cloud.query("SELECT status, attempts, failure_reason FROM nms_broad_log_event WHERE queue = 'rtEvent' AND event_id = $1", [eventKey(busy)])
    ).rows[0];
    expect(log).toEqual({ status: 4, attempts: 3, failure_reason: 13 });
    const stat = (await cloud.query('SELECT failed, expired, retried FROM nms_event_stat WHERE event_type = $1', [type])).rows[0];
    expect(stat).toEqual({ failed: 1, expired: 1, retried: 2 });
    expect((await cloud.query('SELECT count(*)::int AS n FROM cap_mc_retry WHERE event_id = $1', [eventKey(busy)])).rows[0].n).toBe(0);
  });

  it('when many unitary PushEvents arrive at once, some refused, then each good one is stored once under its own id and sent once, and only the bad ones fail', async () => {
    // local-store commits unitary pushes that arrive together in one transaction (group commit): a refused
    // event must fail alone, and no event of a shared transaction may be lost, doubled or given another's id.
    const type = uniqueId('unit').replace(/_/g, '');
    await writeEventTemplate(type, { mailParameters: { subject: 'Unitary' }, $content: '<p><%= ctx.n %></p>' });
    const calls = Array.from({ length: 60 }, (_, i) =>
      i % 15 === 7
        ? mc.NLWS.nmsRtEvent.pushEvent({ type, ctx: { n: String(i) } }).then(
            () => ({ i, fault: undefined as string | undefined }),
            (err: Error) => ({ i, fault: err.message }),
          )
        : mc.NLWS.nmsRtEvent.pushEvent({ type, email: `u${i}@unitary.example.com`, ctx: { n: String(i) } }).then((id: string) => ({ i, id })),
    );
    const results = await Promise.all(calls);
    const refused = results.filter((r) => 'fault' in r);
    expect(refused.map((r) => r.i)).toEqual([7, 22, 37, 52]);
    for (const r of refused) expect((r as { fault: string }).fault).toMatch(/no address/);
    const ids = results.flatMap((r) => ('id' in r ? [r.id] : []));
    expect(new Set(ids).size).toBe(56);
    await waitFor(
      'every good event sent',
      async () => (await cloud.query('SELECT count(*)::int AS n FROM nms_broad_log_event WHERE event_type = $1', [type])).rows[0].n >= 56,
      {
        timeoutMs: 30_000,
        intervalMs: 200,
      },
    );
    const sent = (
      await cloud.query<{ address: string; event_id: string }>('SELECT address, event_id::text FROM nms_broad_log_event WHERE event_type = $1', [type])
    ).rows;
    // Each returned id names the event sent to its own caller's address, once.
    const byEvent = new Map(sent.map((r) => [r.event_id, r.address]));
    expect(sent).toHaveLength(56);
    for (const r of results) if ('id' in r) expect(byEvent.get(eventKey(r.id))).toBe(`u${r.i}@unitary.example.com`);
  });

  it('when many events are pushed, then they are all sent and the pending queue mcPing reports drains back', async () => {
    const type = uniqueId('burst').replace(/_/g, '');
    await writeEventTemplate(type, { mailParameters: { subject: 'Burst' }, $content: '<p><%= ctx.n %></p>' });
    const before = await queueDepth();
    const batch = (k: number) => ({
      rtEvent: Array.from({ length: 100 }, (_, i) => ({ type, email: `b${k}-${i}@burst.example.com`, ctx: { n: String(k * 100 + i) } })),
    });
    const results = await Promise.all([0, 1, 2, 3, 4].map((k) => mc.NLWS.nmsRtEvent.pushEvents(batch(k))));
    const ids = results.flatMap((r: { rtEvent: { id: string }[] }) => r.rtEvent.map((e) => e.id));
    expect(ids).toHaveLength(500);
    await waitFor('the queue back to where it was', async () => (await queueDepth()) <= before, { timeoutMs: 30_000, intervalMs: 200 });
    const { rows } = await cloud.query('SELECT status, count(*)::int AS n FROM nms_broad_log_event WHERE event_type = $1 GROUP BY status', [type]);
    expect(rows).toEqual([{ status: 1, n: 500 }]);
  });
});
