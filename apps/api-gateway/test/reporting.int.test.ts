import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { ReportingSummary } from '@cap/contracts';
import { sdkLogon, sdkSessionLogon, startTestPlatform, uniqueId, waitFor, type SdkClient, type TestPlatform } from '@cap/platform-testing';

const INDICATORS = ['targeted', 'excluded', 'toDeliver', 'processed', 'success', 'error', 'errorRendering', 'errorRefused', 'errorUnreachable'] as const;
const STATS = ['processed', 'sent', 'failed', 'ignored', 'expired', 'retried'] as const;

/**
 * The reporting summary (`GET /nl/jsp/reporting.jsp`): the gateway asks cloud-executor over the Kafka RPC for the
 * delivery indicators and message-center statistics; the page must say what queryDef says on nms:delivery and
 * nms:eventStat, and only to operators.
 */
describe('the reporting summary page', () => {
  let platform: TestPlatform;
  let outDir: string;
  let admin: SdkClient;
  let mc: SdkClient;
  let cloud: pg.Pool;

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'cap-reporting-'));
    platform = await startTestPlatform({
      apps: ['local-store', 'cloud-executor', 'staging-sync', 'api-gateway'],
      envFor: { 'cloud-executor': { CHANNEL_FILE_DIR: outDir, DELIVERY_TICK_MS: '200', DELIVERY_PROGRESS_MS: '100' } },
    });
    admin = await sdkLogon(platform.gatewayUrl, 'admin', 'admin');
    mc = await sdkSessionLogon(platform.gatewayUrl, 'mc/mc');
    cloud = new pg.Pool({ connectionString: platform.cloudDb.url, max: 2 });
  });

  afterAll(async () => {
    await cloud?.end();
    await platform?.stop();
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  const writeTemplate = async (fields: Record<string, unknown>): Promise<string> => {
    const internalName = uniqueId('TPL').replace(/[^A-Za-z0-9_]/g, '_');
    await admin.NLWS.xtkSession.write({ xtkschema: 'nms:delivery', internalName, isModel: true, ...fields });
    await waitFor(
      `template ${internalName} in the cloud DB`,
      async () => (await cloud.query('SELECT 1 FROM nms_delivery WHERE internal_name = $1 AND is_model', [internalName])).rowCount === 1,
      { timeoutMs: 15_000 },
    );
    return internalName;
  };

  const query = (q: Record<string, unknown>) => admin.NLWS.xtkQueryDef.create(q).executeQuery();
  const page = (path: string, headers: Record<string, string> = {}) => fetch(`${platform.gatewayUrl}${path}`, { headers });
  const basic = (login: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${login}:${password}`).toString('base64')}` });

  it('when a delivery ran and events were processed, then the JSON summary matches the indicators and statistics queryDef returns; the HTML page shows them; anonymous callers are refused', async () => {
    const tag = uniqueId('rp').replace(/_/g, '').toLowerCase();
    // A delivery on the file channel: three sent, one personalisation error, one denylisted (excluded).
    const template = await writeTemplate({
      label: 'Report template',
      mailParameters: { subject: 'Hi' },
      $content: "<p><%= formatDate(recipient.birthDate, '%4Y') %></p>",
    });
    const people = [
      { email: `a@${tag}.test`, birth: '1980-01-01', deny: false },
      { email: `b@${tag}.test`, birth: '1981-01-01', deny: false },
      { email: `c@${tag}.test`, birth: '1982-01-01', deny: false },
      { email: `d@${tag}.test`, birth: null, deny: false },
      { email: `e@${tag}.test`, birth: '1983-01-01', deny: true },
    ];
    await cloud.query(
      `INSERT INTO nms_recipient (id, email, first_name, birth_date, black_list, created, last_modified)
       SELECT u.id, u.email, 'X', u.birth, u.deny, now(), now() FROM unnest($1::text[], $2::text[], $3::date[], $4::boolean[]) AS u(id, email, birth, deny)`,
      [people.map(() => uniqueId('rcp')), people.map((p) => p.email), people.map((p) => p.birth), people.map((p) => p.deny)],
    );
    const label = `Report <&> ${tag}`;
    await admin.NLWS.nmsDelivery.SubmitDelivery(template, { label, targets: { where: { condition: { expr: `@email LIKE '%@${tag}.test'` } } } });
    const delivery = await waitFor(
      'the delivery finished, as queryDef on nms:delivery shows it',
      async () => {
        const result = await query({
          schema: 'nms:delivery',
          operation: 'select',
          select: { node: [{ expr: '@id' }, { expr: '@state' }, { expr: '@internalName' }, ...INDICATORS.map((k) => ({ expr: `[properties/@${k}]` }))] },
          where: { condition: { expr: `@label = '${label.replace(/'/g, "\\'")}'` } },
        });
        const row = [result.delivery ?? []].flat()[0];
        return row && Number(row.state) === 95 ? row : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(delivery.properties).toMatchObject({ targeted: '5', excluded: '1', toDeliver: '4', success: '3', error: '1', errorRendering: '1' });

    // Message-center events: two sent and one failed render of one type, one of a type no template covers.
    const sentType = `rep${tag}`;
    const ignoredType = `none${tag}`;
    await writeTemplate({ eventType: sentType, mailParameters: { subject: 'Order' }, $content: '<p><%= ctx.firstName %></p>' });
    const pushed: { rtEvent: { id: string }[] } = await mc.NLWS.nmsRtEvent.pushEvents({
      rtEvent: [
        { type: sentType, email: `x1@${tag}.test`, ctx: { firstName: 'One' } },
        { type: sentType, email: `x2@${tag}.test`, ctx: { firstName: 'Two' } },
        { type: sentType, email: `x3@${tag}.test`, ctx: { lastName: 'NoFirst' } },
        { type: ignoredType, email: `x4@${tag}.test`, ctx: {} },
      ],
    });
    expect(pushed.rtEvent).toHaveLength(4);
    const statsOf = async (type: string) =>
      [
        (
          await query({
            schema: 'nms:eventStat',
            operation: 'select',
            select: { node: [{ expr: '@eventType', groupBy: true }, ...STATS.map((k) => ({ expr: `Sum(@${k})`, alias: `@${k}` }))] },
            where: { condition: { expr: `@eventType = '${type}'` } },
          })
        ).eventStat ?? [],
      ].flat()[0];
    const stats = await waitFor(
      'the events counted in nms:eventStat',
      async () => {
        const [a, b] = await Promise.all([statsOf(sentType), statsOf(ignoredType)]);
        return a && Number(a.processed) === 3 && b && Number(b.processed) === 1 ? { [sentType]: a, [ignoredType]: b } : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(stats[sentType]).toMatchObject({ processed: '3', sent: '2', failed: '1', ignored: '0' });
    expect(stats[ignoredType]).toMatchObject({ processed: '1', ignored: '1' });

    // The JSON summary, with the session of the SDK's logon.
    const session = { 'X-Session-Token': admin._sessionToken, 'X-Security-Token': admin._securityToken };
    const res = await page('/nl/jsp/reporting.jsp?format=json', session);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const summary = (await res.json()) as ReportingSummary;
    const today = new Date().toISOString().slice(0, 10);
    expect(summary.period.to).toBe(today);
    const mine = summary.deliveries.find((d) => d.id === String(delivery.id));
    expect(mine).toMatchObject({ internalName: delivery.internalName, label, template, state: 95, retryPending: 0 });
    expect(mine!.indicators).toEqual(Object.fromEntries(INDICATORS.map((k) => [k, Number(delivery.properties[k])])));
    for (const type of [sentType, ignoredType]) {
      const fromPage = summary.messageCenter.eventTypes.find((e) => e.eventType === type);
      expect(fromPage).toMatchObject(Object.fromEntries(STATS.map((k) => [k, Number(stats[type][k])])));
    }
    const totals = summary.messageCenter.eventTypes.reduce((n, e) => n + e.processed, 0);
    expect(summary.messageCenter.total.processed).toBe(totals);

    // One delivery by id, with Basic authentication of an operator; mc (a message-center operator) may read it too.
    const one = (await (await page(`/nl/jsp/reporting.jsp?format=json&delivery=${delivery.id}`, basic('admin', 'admin'))).json()) as ReportingSummary;
    expect(one.deliveries.map((d) => d.id)).toEqual([String(delivery.id)]);
    expect((await page('/nl/jsp/reporting.jsp?format=json', { 'X-Session-Token': 'mc/mc' })).status).toBe(200);

    // The HTML page: the same figures, the label escaped.
    const html = await page('/nl/jsp/reporting.jsp', basic('admin', 'admin'));
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    const text = await html.text();
    expect(text).toContain(`Report &lt;&amp;&gt; ${tag}`);
    expect(text).not.toContain(`Report <&> ${tag}`);
    expect(text).toContain(`<code>${sentType}</code>`);

    // Anonymous callers, bad credentials and bad parameters.
    const anonymous = await page('/nl/jsp/reporting.jsp?format=json');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect(JSON.stringify(await anonymous.json())).not.toContain(tag);
    expect((await page('/nl/jsp/reporting.jsp')).status).toBe(401);
    expect((await page('/nl/jsp/reporting.jsp?format=json', basic('admin', 'wrong'))).status).toBe(401);
    expect((await page('/nl/jsp/reporting.jsp?format=json', { 'X-Session-Token': '___not-a-session' })).status).toBe(401);
    expect((await page('/nl/jsp/reporting.jsp?format=json&from=yesterday', session)).status).toBe(400);
  });
});
