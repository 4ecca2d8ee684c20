import type { TestPlatform } from '@cap/platform-testing';
// Adobe's own client, unmodified, logs on in the fixture.
import { startCampaignClient, type CampaignClient, type Nlws } from './fixtures/campaign.client';

const ROWS = 3_000;
const PAGE = 100;

type Row = { id: string; lastName?: string; created?: string };

/**
 * Keyset paging of paged selects on a cloud schema: cloud-executor remembers the sort keys of the last row of
 * each page it serves, and reads a page that starts where a remembered one ended as "the rows after it"
 * instead of with OFFSET. Pages through the gateway with the unmodified SDK; the reference is OFFSET paging
 * (pages asked for in reverse order, so that none starts at a remembered end) and the same ORDER BY in SQL.
 */
describe('keyset paging of paged selects on cloud schemas', () => {
  let campaign: CampaignClient;
  let platform: TestPlatform;
  let NLWS: Nlws;
  let cloud: CampaignClient['cloud'];

  const pagesServed = async (): Promise<Record<'first' | 'keyset' | 'offset', number>> => {
    const text = await (await fetch(`${platform.procs.get('cloud-executor')!.url}/metrics`)).text();
    const read = (mode: string) => Number(new RegExp(`^cap_query_pages_total\\{[^}]*mode="${mode}"[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
    return { first: read('first'), keyset: read('keyset'), offset: read('offset') };
  };

  const page = (startLine: number, extra: Record<string, unknown> = {}) =>
    NLWS.xtkQueryDef
      .create({
        schema: 'nms:recipient',
        operation: 'select',
        lineCount: PAGE,
        startLine,
        select: { node: [{ expr: '@id' }, { expr: '@lastName' }, { expr: '@created' }] },
        ...extra,
      })
      .executeQuery()
      .then((r: { recipient?: Row[] }) => r.recipient ?? []) as Promise<Row[]>;

  /** Pages from startLine 0 on, each starting where the previous one ended, until a short page. */
  const walkForward = async (extra: Record<string, unknown> = {}): Promise<Row[]> => {
    const rows: Row[] = [];
    for (let start = 0; ; start += PAGE) {
      const got = await page(start, extra);
      rows.push(...got);
      if (got.length < PAGE) return rows;
    }
  };

  /** The same pages asked for last first: no page starts at a remembered end, so each one is read with OFFSET. */
  const walkBackward = async (extra: Record<string, unknown> = {}): Promise<Row[]> => {
    const pages: Row[][] = [];
    for (let start = Math.floor(ROWS / PAGE) * PAGE; start >= 0; start -= PAGE) pages.unshift(await page(start, extra));
    return pages.flat();
  };

  const idsOf = (rows: Row[]) => rows.map((r) => r.id);

  beforeAll(async () => {
    campaign = await startCampaignClient({
      apps: ['local-store', 'cloud-executor', 'api-gateway'],
      envFor: { 'cloud-executor': { QUERY_CURSOR_FETCH_ROWS: '30' } },
    });
    ({ platform, NLWS, cloud } = campaign);
    // Inserted in reverse key order; last names repeat and are sometimes NULL; creation dates repeat, carry
    // microseconds (more than a JavaScript Date holds) and are sometimes NULL.
    await cloud.query(
      `INSERT INTO nms_recipient (id, email, last_name, created)
       SELECT 'k' || lpad(g::text, 6, '0'), 'k' || g || '@keyset.test',
              CASE WHEN g % 11 = 0 THEN NULL ELSE 'Last' || (g % 37) END,
              CASE WHEN g % 13 = 0 THEN NULL ELSE timestamptz '2026-01-01 00:00:00+00' + (g % 53) * interval '1.234567 second' END
         FROM generate_series($1::int, 1, -1) AS g`,
      [ROWS],
    );
    await cloud.query('ANALYZE nms_recipient');
  });

  afterAll(async () => {
    await campaign?.stop();
  });

  it('when a few thousand rows are paged 100 at a time from the start, then every row comes once, in the same order as OFFSET paging, and the pages after the first are read by keyset', async () => {
    const before = await pagesServed();
    const forward = await walkForward();
    const afterForward = await pagesServed();
    expect(afterForward.keyset - before.keyset).toBe(ROWS / PAGE); // every page but the first, plus the empty one after the last
    expect(afterForward.offset - before.offset).toBe(0);

    expect(forward.length).toBe(ROWS);
    expect(new Set(idsOf(forward)).size).toBe(ROWS);
    expect(idsOf(forward)).toEqual(Array.from({ length: ROWS }, (_, i) => `k${String(i + 1).padStart(6, '0')}`));

    // The same order written out (an explicit <orderBy> is another query for the cache), read with OFFSET.
    const backward = await walkBackward({ orderBy: { node: { expr: '@id' } } });
    const afterBackward = await pagesServed();
    expect(afterBackward.keyset - afterForward.keyset).toBe(0);
    expect(afterBackward.offset - afterForward.offset).toBe(ROWS / PAGE);
    expect(backward).toEqual(forward);
  });

  it('when the order has nullable, repeating, descending keys ended by the primary key, then keyset pages return the rows of OFFSET paging, NULLs included', async () => {
    for (const orderBy of [
      { node: [{ expr: '@lastName', sortDesc: true }, { expr: '@id' }] },
      { node: [{ expr: '@lastName' }, { expr: '@created', sortDesc: true }, { expr: '@id', sortDesc: true }] },
    ]) {
      const before = await pagesServed();
      const forward = await walkForward({ orderBy });
      expect((await pagesServed()).keyset - before.keyset).toBe(ROWS / PAGE);
      expect(forward.length).toBe(ROWS);
      expect(new Set(idsOf(forward)).size).toBe(ROWS);
      const sqlOrder = orderBy.node.length === 2 ? 'last_name DESC, id' : 'last_name, created DESC, id DESC';
      const { rows } = await cloud.query<{ id: string }>(`SELECT id FROM nms_recipient ORDER BY ${sqlOrder}`);
      expect(idsOf(forward)).toEqual(rows.map((r) => r.id));
      // Pages asked for in reverse order of a query not seen before are read with OFFSET: same rows.
      expect(await walkBackward({ orderBy, where: { condition: { expr: '@email IS NOT NULL' } } })).toEqual(forward);
    }
  });

  it('when a client jumps to a startLine no page ended at, then that page is read with OFFSET and is right, and the page after it is read by keyset', async () => {
    const { rows } = await cloud.query<{ id: string }>(`SELECT id FROM nms_recipient WHERE last_name IS NOT NULL ORDER BY id`);
    const where = { condition: { expr: '@lastName IS NOT NULL' } };
    const before = await pagesServed();
    const jump = await page(1_234, { where });
    const afterJump = await pagesServed();
    expect(afterJump.offset - before.offset).toBe(1);
    expect(idsOf(jump)).toEqual(rows.slice(1_234, 1_234 + PAGE).map((r) => r.id));

    const next = await page(1_234 + PAGE, { where });
    expect((await pagesServed()).keyset - afterJump.keyset).toBe(1);
    expect(idsOf(next)).toEqual(rows.slice(1_234 + PAGE, 1_234 + 2 * PAGE).map((r) => r.id));

    // Asked again (a client retrying a page): same rows, by keyset from the remembered end of the jump page.
    expect(await page(1_234 + PAGE, { where })).toEqual(next);
  });

  it('when a row is deleted before the cursor between two pages, then the next keyset page neither repeats nor skips a row', async () => {
    const where = { condition: { expr: "@email LIKE 'k1%'" } };
    const { rows } = await cloud.query<{ id: string }>(`SELECT id FROM nms_recipient WHERE email LIKE 'k1%' ORDER BY id`);
    const first = await page(0, { where });
    expect(idsOf(first)).toEqual(rows.slice(0, PAGE).map((r) => r.id));
    await cloud.query('DELETE FROM nms_recipient WHERE id = $1', [first[0]!.id]);
    // OFFSET would now skip the row at position PAGE (everything moved up by one); keyset resumes after the last row read.
    expect(idsOf(await page(PAGE, { where }))).toEqual(rows.slice(PAGE, 2 * PAGE).map((r) => r.id));
  });
});
