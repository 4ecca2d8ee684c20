// Adobe's own client, unmodified, logs on in the fixture.
import { startCampaignClient, type CampaignClient, type Nlws } from './fixtures/campaign.client';

interface CampaignException {
  errorCode: string;
  faultString: string;
}

const ROWS = 25_000;
const PAGE = 5_000;

/**
 * Batch queries on a cloud schema (P6): rows seeded straight into the cloud DB, read page by page with
 * startLine/lineCount through the gateway → cloud-executor, which reads each page through a server-side cursor
 * (QUERY_CURSOR_FETCH_ROWS rows per FETCH; a small value here so every page takes several FETCHes and ends on a
 * partial one).
 */
describe('batch queries on cloud schemas through the unmodified @adobe/acc-js-sdk', () => {
  let campaign: CampaignClient;
  let NLWS: Nlws;
  let cloud: CampaignClient['cloud'];

  beforeAll(async () => {
    campaign = await startCampaignClient({
      apps: ['local-store', 'cloud-executor', 'api-gateway'],
      envFor: { 'cloud-executor': { QUERY_CURSOR_FETCH_ROWS: '700' } },
    });
    ({ NLWS, cloud } = campaign);
    // Inserted in reverse key order, so the heap order is not the key order a page must follow.
    await cloud.query(
      `INSERT INTO nms_recipient (id, email, last_name, location_city)
       SELECT 'p' || lpad(g::text, 7, '0'), 'p' || g || '@batch.test', 'Last' || (g % 100), 'City' || (g % 7)
         FROM generate_series($1::int, 1, -1) AS g`,
      [ROWS],
    );
    await cloud.query('ANALYZE nms_recipient');
  });

  afterAll(async () => {
    await campaign?.stop();
  });

  const page = (startLine: number, extra: Record<string, unknown> = {}) =>
    NLWS.xtkQueryDef
      .create({ schema: 'nms:recipient', operation: 'select', lineCount: PAGE, startLine, select: { node: [{ expr: '@id' }, { expr: '@email' }] }, ...extra })
      .executeQuery() as Promise<{ recipient: { id: string; email: string }[] }>;

  it('when 25,000 rows are paged with lineCount 5,000 and no orderBy, then every row comes exactly once, in primary-key order, and the page after the last is empty', async () => {
    const ids: string[] = [];
    for (let start = 0; ; start += PAGE) {
      const { recipient } = await page(start);
      if (recipient.length === 0) break;
      expect(recipient.length).toBe(PAGE);
      for (const r of recipient) {
        expect(r.email).toBe(`p${Number(r.id.slice(1))}@batch.test`);
        ids.push(r.id);
      }
    }
    expect(ids.length).toBe(ROWS);
    expect(new Set(ids).size).toBe(ROWS);
    expect(ids).toEqual(Array.from({ length: ROWS }, (_, i) => `p${String(i + 1).padStart(7, '0')}`));
  });

  it('when a grouped select with having is paged, then the groups come once each, ordered by the group, with their counts', async () => {
    const q = (startLine: number) =>
      NLWS.xtkQueryDef
        .create({
          schema: 'nms:recipient',
          operation: 'select',
          lineCount: 4,
          startLine,
          select: {
            node: [
              { expr: '[location/@city]', alias: '@city', groupBy: true },
              { expr: 'count(@id)', alias: '@n' },
            ],
          },
          where: { condition: { expr: "@email LIKE '%@batch.test'" } },
          having: { condition: { expr: 'count(@id) > 0' } },
        })
        .executeQuery() as Promise<{ recipient: { city: string; n: string }[] }>;
    const groups = [...(await q(0)).recipient, ...(await q(4)).recipient, ...(await q(8)).recipient];
    expect(groups.map((g) => g.city)).toEqual(['City0', 'City1', 'City2', 'City3', 'City4', 'City5', 'City6']);
    expect(groups.reduce((n, g) => n + Number(g.n), 0)).toBe(ROWS);
  });

  it('when a paged select has a where clause and a subQuery, then only matching rows come, and a database error met while fetching is a fault that leaves the service answering', async () => {
    const { recipient } = await page(0, {
      where: {
        condition: [
          { expr: "@lastName = 'Last7'" },
          {
            expr: '@id',
            setOperator: 'IN',
            subQuery: { schema: 'nms:recipient', select: { node: { expr: '@id' } }, where: { condition: { expr: "[location/@city] = 'City0'" } } },
          },
        ],
      },
    });
    // g % 100 = 7 and g % 7 = 0: g ≡ 7 (mod 700) → 25000 / 700 rounded up = 36 rows.
    expect(recipient.length).toBe(36);
    expect(recipient.every((r) => Number(r.id.slice(1)) % 700 === 7)).toBe(true);

    const err = (await page(0, { where: { condition: { expr: '@gender / 0 = 1' } } }).then(
      () => undefined,
      (e: CampaignException) => e,
    )) as CampaignException | undefined;
    expect(err?.errorCode).toBe('PGS-220000');
    // The caller learns the class of error and a correlation id; PostgreSQL's own text stays in the service log.
    expect(err?.faultString).toMatch(/out of range \(correlation id [0-9a-f-]{36}\)/);
    expect(err?.faultString).not.toMatch(/division by zero/);
    expect((await page(ROWS - 1)).recipient.map((r) => r.id)).toEqual([`p${String(ROWS).padStart(7, '0')}`]);
  });

  it('when a cloud schema is paged with joins through its links, and filtered by EXISTS on a collection link, then every row comes once with its linked values', async () => {
    await cloud.query(`INSERT INTO nms_service (id, name, label) VALUES (9001, 'svcA', 'A'), (9002, 'svcB', 'B')`);
    await cloud.query(
      `INSERT INTO nms_subscription (id, recipient_id, service_id)
       SELECT 's' || lpad(g::text, 7, '0') || '-' || s, 'p' || lpad(g::text, 7, '0'), s
         FROM generate_series(1, $1::int) AS g, (VALUES (9001), (9002)) AS v(s)
        WHERE (s = 9001 AND g % 10 = 0) OR (s = 9002 AND g % 1000 = 0)`,
      [ROWS],
    );
    const rows: { id: string; recipient: { email: string }; service: { name: string } }[] = [];
    for (let startLine = 0; ; startLine += 1_000) {
      const { subscription } = (await NLWS.xtkQueryDef
        .create({
          schema: 'nms:subscription',
          operation: 'select',
          lineCount: 1_000,
          startLine,
          select: { node: [{ expr: '@id' }, { expr: '[recipient/@email]' }, { expr: '[service/@name]' }] },
        })
        .executeQuery()) as { subscription: typeof rows };
      rows.push(...subscription);
      if (subscription.length < 1_000) break;
    }
    expect(rows.length).toBe(2_525);
    expect(new Set(rows.map((r) => r.id)).size).toBe(2_525);
    expect(rows.map((r) => r.id)).toEqual([...rows.map((r) => r.id)].sort());
    for (const r of rows) {
      const [, g, service] = /^s0*(\d+)-(\d+)$/.exec(r.id)!;
      expect(r.recipient.email).toBe(`p${g}@batch.test`);
      expect(r.service.name).toBe(service === '9001' ? 'svcA' : 'svcB');
    }

    const { recipient } = await page(0, {
      where: { condition: { expr: 'subscription', setOperator: 'EXISTS', condition: { expr: "[service/@name] = 'svcB'" } } },
    });
    expect(recipient.map((r) => r.id)).toEqual(Array.from({ length: 25 }, (_, i) => `p${String((i + 1) * 1000).padStart(7, '0')}`));
  });
});
