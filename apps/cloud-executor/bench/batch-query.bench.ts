/**
 * P6 — batch query streaming: a 1,000,000-row select delivered in pages with process RSS ≤ 256 MB
 * (docs/targets.md). Run: `npm run bench -- batch-query` (or `npx tsx apps/cloud-executor/bench/batch-query.bench.ts`)
 * after `node infra/scripts/build-app.mjs all`. Options: `--rows <n>` (default 1000000), `--page <n>` (lineCount,
 * default 10000), `--runs <n>` (walks of the whole table, default 2), `--orderBy <xpath>` (default: none, so the
 * service orders the pages by the primary key).
 *
 * Set-up: local-store, cloud-executor and api-gateway as OS processes from their bundles (startTestPlatform: own
 * databases, topic prefix), production settings. `rows` nms:recipient rows are inserted straight into the cloud
 * DB (one INSERT … SELECT generate_series). Each run walks the whole table with xtk:queryDef#ExecuteQuery as raw
 * SOAP through the gateway (the SDK's DOM → JSON conversion would measure the client), startLine += lineCount
 * until a page comes back short, and checks that every id came exactly once. cloud-executor's memory is read
 * from /proc/<pid>/status: VmHWM (peak RSS since start) before the first query and after the walks, VmRSS
 * sampled every 100 ms during them; the gateway's VmHWM is reported for information.
 *
 * Baseline measured in the same run (the machine is shared; the ratio says more): the same pages read by
 * node-postgres straight from the cloud DB (same ORDER BY / LIMIT / OFFSET statement, rows as objects), no
 * gateway, no Kafka, no shaping.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startTestPlatform } from '@cap/platform-testing';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { ENVELOPE_OPEN, logOn, type Tokens } from '../../api-gateway/bench/soap.logon';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    page: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '2' },
    orderBy: { type: 'string', default: '' },
  },
});
const N = Math.max(1_000, Number(args.rows));
const PAGE = Math.max(1, Number(args.page));
const RUNS = Math.max(1, Number(args.runs));
const ORDER_BY = args.orderBy;
const TARGET_MB = 256;
const log = (text: string) => process.stderr.write(`${text}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (kb: number) => kb / 1024;

function procStatusKb(pid: number, key: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${key} in /proc/${pid}/status`);
  return Number(m[1]);
}

// ── SOAP ────────────────────────────────────────────────────────────────────────────────────────────────

/** One page as the SDK sends it (tokens in headers, cookie, SOAP header and first param); returns the row ids. */
async function fetchPage(url: string, tokens: Tokens, startLine: number): Promise<string[]> {
  const orderBy = ORDER_BY ? `<orderBy><node expr="${ORDER_BY}"/></orderBy>` : '';
  const body =
    `${ENVELOPE_OPEN}<SOAP-ENV:Header><Cookie>__sessiontoken=${tokens.session}</Cookie><X-Security-Token>${tokens.security}</X-Security-Token></SOAP-ENV:Header>` +
    '<SOAP-ENV:Body><m:ExecuteQuery xmlns:m="urn:xtk:queryDef" SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">' +
    `<sessiontoken xsi:type="xsd:string">${tokens.session}</sessiontoken><document xsi:type="" SOAP-ENV:encodingStyle="http://xml.apache.org/xml-soap/literalxml">` +
    `<queryDef schema="nms:recipient" operation="select" lineCount="${PAGE}" startLine="${startLine}" xtkschema="xtk:queryDef">` +
    '<select><node expr="@id"/><node expr="@email"/><node expr="@firstName"/><node expr="@lastName"/><node expr="[location/@city]"/><node expr="@created"/></select>' +
    `${orderBy}</queryDef></document></m:ExecuteQuery></SOAP-ENV:Body></SOAP-ENV:Envelope>`;
  const res = await fetch(`${url}/nl/jsp/soaprouter.jsp`, {
    method: 'POST',
    headers: {
      'Content-Type': 'text/xml; charset=utf-8',
      SOAPAction: 'xtk:queryDef#ExecuteQuery',
      'X-Session-Token': tokens.session,
      'X-Security-Token': tokens.security,
      Cookie: `__sessiontoken=${tokens.session}`,
    },
    body,
  });
  const text = await res.text();
  if (res.status !== 200 || text.includes('SOAP-ENV:Fault') || !text.includes('recipient-collection')) {
    throw new Error(`page at startLine ${startLine}: HTTP ${res.status} ${text.slice(0, 400)}`);
  }
  return [...text.matchAll(/<recipient id="([^"]+)"/g)].map((m) => m[1]!);
}

// ── measurements ────────────────────────────────────────────────────────────────────────────────────────

interface Walk {
  seconds: number;
  pages: number;
  firstPagesMs: number;
  lastPagesMs: number;
}

/** Reads every page from startLine 0 until a short page; checks count and uniqueness. */
async function walk(readPage: (startLine: number) => Promise<string[]>, label: string): Promise<Walk> {
  const seen = new Set<string>();
  const pageMs: number[] = [];
  const t0 = performance.now();
  for (let start = 0; ; start += PAGE) {
    const p0 = performance.now();
    const ids = await readPage(start);
    pageMs.push(performance.now() - p0);
    for (const id of ids) {
      if (seen.has(id)) throw new Error(`${label}: id ${id} came twice (page at ${start})`);
      seen.add(id);
    }
    if (ids.length < PAGE) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  if (seen.size !== N) throw new Error(`${label}: ${seen.size} distinct rows read, ${N} expected`);
  const tail = Math.min(10, pageMs.length);
  return {
    seconds,
    pages: pageMs.length,
    firstPagesMs: median(pageMs.slice(0, tail)),
    lastPagesMs: median(pageMs.slice(-tail - 1, -1).length ? pageMs.slice(-tail - 1, -1) : pageMs),
  };
}

async function main() {
  const platform = await startTestPlatform({
    apps: ['local-store', 'cloud-executor', 'api-gateway'],
    env: { LOG_LEVEL: 'warn', NODE_ENV: 'production' },
  });
  const cloud = new pg.Pool({ connectionString: platform.cloudDb.url, max: 2 });
  try {
    const executor = platform.procs.get('cloud-executor')!;
    log(`seeding ${N} recipients…`);
    const s0 = performance.now();
    await cloud.query(
      `INSERT INTO nms_recipient (id, email, first_name, last_name, birth_date, location_city, created, last_modified)
       SELECT 'b' || lpad(g::text, 8, '0'), 'r' || g || '@bench.test', 'First' || g, 'Last' || g, date '1970-01-01' + (g % 15000), 'City' || (g % 500), now(), now()
         FROM generate_series(1, $1::int) AS g`,
      [N],
    );
    await cloud.query('VACUUM ANALYZE nms_recipient');
    log(`seeded in ${((performance.now() - s0) / 1000).toFixed(1)} s`);
    const tokens = await logOn(platform.gatewayUrl);
    const hwmBefore = procStatusKb(executor.pid, 'VmHWM');
    const gateway = platform.procs.get('api-gateway')!;
    const gatewayHwmBefore = procStatusKb(gateway.pid, 'VmHWM');

    const baselineSql = `SELECT id, email, first_name, last_name, location_city, created FROM nms_recipient ORDER BY ${ORDER_BY ? 'email' : 'id'} LIMIT $1 OFFSET $2`;
    const results: { walk: Walk; baseline: Walk; rssMaxKb: number }[] = [];
    for (let run = 1; run <= RUNS; run++) {
      const baseline = await walk(async (start) => (await cloud.query<{ id: string }>(baselineSql, [PAGE, start])).rows.map((r) => r.id), 'baseline');
      let rssMaxKb = 0;
      const sampler = setInterval(() => (rssMaxKb = Math.max(rssMaxKb, procStatusKb(executor.pid, 'VmRSS'))), 100);
      let w: Walk;
      try {
        w = await walk((start) => fetchPage(platform.gatewayUrl, tokens, start), 'gateway');
      } finally {
        clearInterval(sampler);
      }
      results.push({ walk: w, baseline, rssMaxKb });
      log(
        `run ${run}: ${N} rows in ${w.pages} pages, ${w.seconds.toFixed(1)} s (${(w.pages / w.seconds).toFixed(2)} pages/s, ${Math.round(N / w.seconds)} rows/s); ` +
          `page ${w.firstPagesMs.toFixed(0)} ms at the start, ${w.lastPagesMs.toFixed(0)} ms at the end; cloud-executor RSS max ${mb(rssMaxKb).toFixed(0)} MB; ` +
          `baseline ${baseline.seconds.toFixed(1)} s (page ${baseline.firstPagesMs.toFixed(0)} → ${baseline.lastPagesMs.toFixed(0)} ms); load ${loadavg()[0]!.toFixed(1)}`,
      );
    }
    const hwmAfter = procStatusKb(executor.pid, 'VmHWM');
    const gatewayHwmAfter = procStatusKb(gateway.pid, 'VmHWM');
    // How cloud-executor reached each page's startLine (keyset paging: docs/benchmarks.md#batch-queries-p6).
    const metrics = await (await fetch(`${executor.url}/metrics`)).text();
    const pagesBy = (mode: string) => new RegExp(`^cap_query_pages_total\\{[^}]*mode="${mode}"[^}]*\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? '?';
    const m = (f: (r: (typeof results)[number]) => number) => median(results.map(f));
    const seconds = m((r) => r.walk.seconds);
    const baseSeconds = m((r) => r.baseline.seconds);
    process.stdout.write(
      [
        `P6 batch query benchmark: ${N} nms:recipient rows, lineCount ${PAGE}, ${ORDER_BY ? `orderBy ${ORDER_BY}` : 'no orderBy (primary-key order)'}, ${RUNS} runs, ${cpus().length} cores, Node ${process.version}`,
        '',
        '| measure | median | target |',
        '|---|---:|---|',
        `| whole table through the gateway (${results[0]!.walk.pages} pages) | ${seconds.toFixed(1)} s (${Math.round(N / seconds)} rows/s) | |`,
        `| pages/s | ${(results[0]!.walk.pages / seconds).toFixed(2)} | |`,
        `| one page at the start / at the end of the table | ${m((r) => r.walk.firstPagesMs).toFixed(0)} ms / ${m((r) => r.walk.lastPagesMs).toFixed(0)} ms | |`,
        `| cloud-executor peak RSS (VmHWM) before the first query → after ${RUNS} walks | ${mb(hwmBefore).toFixed(0)} MB → ${mb(hwmAfter).toFixed(0)} MB | ≤ ${TARGET_MB} MB: ${mb(hwmAfter) <= TARGET_MB ? 'met' : 'missed'} |`,
        `| cloud-executor RSS sampled during the walks (max) | ${mb(Math.max(...results.map((r) => r.rssMaxKb))).toFixed(0)} MB | |`,
        `| (information) api-gateway peak RSS (VmHWM) before → after | ${mb(gatewayHwmBefore).toFixed(0)} MB → ${mb(gatewayHwmAfter).toFixed(0)} MB | |`,
        `| pages served by cloud-executor: first / keyset / OFFSET (all runs) | ${pagesBy('first')} / ${pagesBy('keyset')} / ${pagesBy('offset')} | |`,
        `| baseline: same pages by node-postgres straight from the DB | ${baseSeconds.toFixed(1)} s (page ${m((r) => r.baseline.firstPagesMs).toFixed(0)} → ${m((r) => r.baseline.lastPagesMs).toFixed(0)} ms) | |`,
        `| ratio gateway / baseline | ${(seconds / baseSeconds).toFixed(1)}× | |`,
        '',
      ].join('\n'),
    );
  } finally {
    await cloud.end();
    await platform.stop();
  }
}

main().catch((err) => {
  log(String(err?.stack ?? err));
  process.exit(1);
});
