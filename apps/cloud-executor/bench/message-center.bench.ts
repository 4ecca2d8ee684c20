/**
 * P7 — the message center, end to end: PushEvent → stored → relayed → rendered → sent to the channel → logged →
 * status back on the event, ≥ 500 messages/s (docs/targets.md). Run:
 * `npx tsx apps/cloud-executor/bench/message-center.bench.ts` (also `npm run bench -- message-center`) after
 * `node infra/scripts/build-app.mjs all`. Options: `--events <n>` (default 20000) per PushEvents run,
 * `--unitary <n>` (default 5000) per PushEvent run, `--runs <n>` (default 3).
 *
 * Set-up: the four services from their bundles (startTestPlatform), the gateway with a RATE_LIMITS_FILE high
 * enough not to refuse the load, the file channel in a temporary folder, one message template (subject and
 * HTML body personalised from the event's ctx) written through the SDK. The load generator (this process)
 * sends SOAP requests as the SDK writes them, with the Message Center `mc/mc` session token:
 *  - PushEvents: batches of 50 events, 8 callers in parallel;
 *  - PushEvent: one event per call, 32 callers in parallel.
 * The clock runs from the first request until every event of the run has its final status (Sent) in the local
 * DB — what a client polling nms:rtEvent would see. Baseline in the same run: the intake alone (until the
 * last PushEvent call is answered), i.e. how fast events can be stored; the ratio shows whether sending keeps up.
 * And for the unitary intake, unitary `xtk:session#Ingest` (admin session) with as many calls and callers: a
 * PushEvent is a unitary write like an Ingest, so its intake should come within 20 % of Ingest's (docs/targets.md).
 *
 * Backlog drain (the message center's own capacity, whatever the intake): cloud-executor is stopped, `events`
 * events are pushed (they wait in Kafka), cloud-executor is started again; the clock runs from the first
 * event's status change to the last one's (consumer start-up excluded).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { benchRunInfo, recordRatios, runInfoLine, sdkLogon, startTestPlatform, uniqueId, waitFor, type RatioRow } from '@cap/platform-testing';
// The gateway benchmarks' SOAP calls (bench code, not part of any app's bundle).
// eslint-disable-next-line @nx/enforce-module-boundaries
import { ingestCall, logOn } from '../../api-gateway/bench/soap.logon';

const { values: args } = parseArgs({
  options: { events: { type: 'string', default: '20000' }, unitary: { type: 'string', default: '5000' }, runs: { type: 'string', default: '3' } },
});
const EVENTS = Math.max(500, Number(args.events));
const UNITARY = Math.max(100, Number(args.unitary));
const RUNS = Math.max(1, Number(args.runs));
const TARGET = 500;
const log = (text: string) => process.stderr.write(`${text}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const escapeXml = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A call as the SDK sends it: session token as first parameter, the event document as literal XML. */
function envelope(method: 'PushEvent' | 'PushEvents', param: string, xml: string): string {
  return (
    '<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"' +
    ' xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns="http://xml.apache.org/xml-soap"><SOAP-ENV:Header><X-Security-Token></X-Security-Token></SOAP-ENV:Header>' +
    `<SOAP-ENV:Body><m:${method} xmlns:m="urn:nms:rtEvent" SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">` +
    '<sessiontoken xsi:type="xsd:string">mc/mc</sessiontoken>' +
    `<${param} xsi:type="" SOAP-ENV:encodingStyle="http://xml.apache.org/xml-soap/literalxml">${xml}</${param}>` +
    `</m:${method}></SOAP-ENV:Body></SOAP-ENV:Envelope>`
  );
}

const eventXml = (type: string, run: string, i: number) =>
  `<rtEvent type="${type}" email="c${i}-${run}@mc-bench.test" wishedChannel="0"><ctx><firstName>${escapeXml(`Client ${i}`)}</firstName><order id="${run}-${i}" total="${(i % 997) / 10}"/></ctx></rtEvent>`;

async function main() {
  const runInfo = benchRunInfo(join(__dirname, '..', '..', '..'));
  const outDir = mkdtempSync(join(tmpdir(), 'cap-bench-mc-'));
  const limitsFile = join(outDir, 'rate-limits.json');
  writeFileSync(
    limitsFile,
    JSON.stringify({
      windowMs: 1000,
      default: { limit: 100_000 },
      internal: { limit: 100_000, apis: ['xtk:persist#GetEntityIfMoreRecent'] },
      apis: {},
      fallback: 'local',
    }),
  );
  const platform = await startTestPlatform({
    apps: ['local-store', 'cloud-executor', 'staging-sync', 'api-gateway'],
    env: { LOG_LEVEL: 'warn', NODE_ENV: 'production' },
    envFor: { 'cloud-executor': { CHANNEL_FILE_DIR: join(outDir, 'messages') }, 'api-gateway': { RATE_LIMITS_FILE: limitsFile } },
  });
  const local = new pg.Pool({ connectionString: platform.localDb.url, max: 2 });
  const cloud = new pg.Pool({ connectionString: platform.cloudDb.url, max: 2 });
  try {
    const admin = await sdkLogon(platform.gatewayUrl, 'admin', 'admin');
    const type = uniqueId('bench').replace(/_/g, '');
    const template = uniqueId('MCBENCH').replace(/[^A-Za-z0-9_]/g, '_');
    await admin.NLWS.xtkSession.write({
      xtkschema: 'nms:delivery',
      internalName: template,
      isModel: true,
      eventType: type,
      mailParameters: { subject: 'Order <%= ctx.order.@id %> confirmed', senderAddress: 'shop@example.com' },
      $content:
        '<html><body><p>Hello <%= ctx.firstName %>,</p><p>we received your order <%= ctx.order.id %> (total <%= ctx.order.total %> EUR).</p></body></html>',
    });
    await waitFor(
      'the template in the cloud DB',
      async () => (await cloud.query('SELECT 1 FROM nms_delivery WHERE internal_name = $1', [template])).rowCount === 1,
      { timeoutMs: 20_000 },
    );

    const url = `${platform.gatewayUrl}/nl/jsp/soaprouter.jsp`;
    const post = async (action: string, body: string) => {
      const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: action }, body });
      const text = await res.text();
      if (res.status !== 200 || text.includes('SOAP-ENV:Fault'))
        throw new Error(`${action} answered ${res.status}: ${/<faultstring[^>]*>([^<]*)/.exec(text)?.[1] ?? text.slice(0, 300)}`);
    };

    /** Sends `calls` requests with `parallel` callers; resolves when the last is answered. */
    const drive = async (calls: (() => Promise<void>)[], parallel: number) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: parallel }, async () => {
          while (next < calls.length) await calls[next++]!();
        }),
      );
    };

    const measure = async (mode: 'PushEvents' | 'PushEvent', n: number) => {
      const run = uniqueId('r').replace(/_/g, '');
      const calls: (() => Promise<void>)[] = [];
      if (mode === 'PushEvents') {
        for (let i = 0; i < n; i += 50) {
          const xml = `<events>${Array.from({ length: Math.min(50, n - i) }, (_, k) => eventXml(type, run, i + k)).join('')}</events>`;
          calls.push(() => post('nms:rtEvent#PushEvents', envelope('PushEvents', 'domEventCollection', xml)));
        }
      } else {
        for (let i = 0; i < n; i++) calls.push(() => post('nms:rtEvent#PushEvent', envelope('PushEvent', 'domEvent', eventXml(type, run, i))));
      }
      const like = `%-${run}@mc-bench.test`;
      const t0 = performance.now();
      let pushedAt = 0;
      let pushFailure: unknown;
      // A refused call ends the run, with the platform stopped (an unhandled rejection would exit at once and leave
      // the services running).
      const pushing = drive(calls, mode === 'PushEvents' ? 8 : 32).then(
        () => (pushedAt = performance.now()),
        (err: unknown) => (pushFailure = err ?? new Error('push failed')),
      );
      let done = 0;
      for (;;) {
        if (pushFailure !== undefined) throw pushFailure;
        const { rows } = await local.query<{ status: number; n: number }>(
          'SELECT status, count(*)::int AS n FROM nms_rt_event WHERE email LIKE $1 GROUP BY status',
          [like],
        );
        done = rows.filter((r) => r.status !== 0).reduce((s, r) => s + r.n, 0);
        const other = rows.filter((r) => r.status !== 0 && r.status !== 2);
        if (other.length > 0) throw new Error(`events not sent: ${JSON.stringify(other)}`);
        if (done >= n) break;
        if (performance.now() - t0 > 300_000) throw new Error(`only ${done}/${n} events processed after 300 s`);
        await sleep(50);
      }
      const doneAt = performance.now();
      await pushing;
      if (pushFailure !== undefined) throw pushFailure;
      const sent = Number((await cloud.query('SELECT count(*) AS n FROM nms_broad_log_event WHERE address LIKE $1 AND status = 1', [like])).rows[0].n);
      if (sent !== n) throw new Error(`${sent} logs for ${n} events`);
      const result = { rate: n / ((doneAt - t0) / 1000), intake: n / ((pushedAt - t0) / 1000), seconds: (doneAt - t0) / 1000 };
      log(
        `${mode} run: ${n} events sent in ${result.seconds.toFixed(2)} s → ${Math.round(result.rate)} messages/s end to end; intake alone ${Math.round(result.intake)} events/s; load ${loadavg()[0]!.toFixed(1)}`,
      );
      return result;
    };

    const drainBacklog = async (n: number) => {
      const run = uniqueId('q').replace(/_/g, '');
      const executor = platform.procs.get('cloud-executor')!;
      await executor.stop();
      const calls: (() => Promise<void>)[] = [];
      for (let i = 0; i < n; i += 50) {
        const xml = `<events>${Array.from({ length: Math.min(50, n - i) }, (_, k) => eventXml(type, run, i + k)).join('')}</events>`;
        calls.push(() => post('nms:rtEvent#PushEvents', envelope('PushEvents', 'domEventCollection', xml)));
      }
      await drive(calls, 8);
      // The platform's environment (its cloud-executor's included); not waited for: its start-up counts.
      const restarted = await platform.startReplica('cloud-executor');
      platform.procs.set('cloud-executor', restarted);
      const like = `%-${run}@mc-bench.test`;
      const { rows } = await waitFor(
        'every backlog event sent',
        async () => {
          const r = await local.query<{ n: number; first: Date; last: Date }>(
            'SELECT count(*)::int AS n, min(processed) AS first, max(processed) AS last FROM nms_rt_event WHERE email LIKE $1 AND status = 2',
            [like],
          );
          return r.rows[0]!.n >= n ? r : undefined;
        },
        { timeoutMs: 300_000, intervalMs: 200 },
      );
      const seconds = (rows[0]!.last.getTime() - rows[0]!.first.getTime()) / 1000;
      log(`backlog run: ${n} events drained in ${seconds.toFixed(2)} s → ${Math.round(n / seconds)} messages/s; load ${loadavg()[0]!.toFixed(1)}`);
      return n / seconds;
    };

    /** Unitary Ingest with PushEvent's callers: the intake a unitary write gets through the same gateway. */
    const ingestIntake = async (n: number) => {
      const tokens = await logOn(platform.gatewayUrl);
      const call = ingestCall(tokens);
      const calls = Array.from({ length: n }, () => async () => {
        const res = await fetch(url, { method: 'POST', headers: call.headers, body: call.body });
        const text = await res.text();
        if (res.status !== 200 || text.includes('SOAP-ENV:Fault')) throw new Error(`Ingest answered ${res.status}: ${text.slice(0, 300)}`);
      });
      const t0 = performance.now();
      await drive(calls, 32);
      const rate = n / ((performance.now() - t0) / 1000);
      log(`Ingest run: ${n} unitary calls answered → ${Math.round(rate)} calls/s; load ${loadavg()[0]!.toFixed(1)}`);
      return rate;
    };

    const rows: string[] = [];
    const ratios: RatioRow[] = [];
    const unitaryIntakes: number[] = [];
    const unitaryRates: number[] = [];
    for (const [mode, n] of [
      ['PushEvents', EVENTS],
      ['PushEvent', UNITARY],
    ] as const) {
      const results = [];
      for (let r = 0; r < RUNS; r++) results.push(await measure(mode, n));
      const rates = results.map((x) => x.rate);
      const intakes = results.map((x) => x.intake);
      if (mode === 'PushEvent') {
        unitaryIntakes.push(...intakes);
        unitaryRates.push(...rates);
      } else {
        ratios.push({
          id: 'P7',
          measure: `PushEvents end to end (50 per call, ${n} events)`,
          value: median(rates),
          unit: 'events/s',
          baseline: { measure: 'the same calls, intake alone', value: median(intakes), unit: 'events/s' },
          ratio: median(rates) / median(intakes),
          goal: `≥ ${TARGET}/s`,
          met: median(rates) >= TARGET,
        });
      }
      rows.push(
        `| ${mode} (${n} events per run${mode === 'PushEvents' ? ', 50 per call, 8 callers' : ', 32 callers'}) | ${Math.round(median(rates))} /s | ${Math.round(Math.min(...rates))} – ${Math.round(Math.max(...rates))} /s | ${Math.round(median(intakes))} /s | ${(median(rates) / median(intakes)).toFixed(2)} | ≥ ${TARGET}/s: ${median(rates) >= TARGET ? 'met' : 'missed'} |`,
      );
    }
    const ingests = [];
    for (let r = 0; r < RUNS; r++) ingests.push(await ingestIntake(UNITARY));
    const pushVsIngest = median(unitaryIntakes) / median(ingests);
    rows.push(
      `| baseline: unitary Ingest (${UNITARY} calls per run, 32 callers) | ${Math.round(median(ingests))} /s | ${Math.round(Math.min(...ingests))} – ${Math.round(Math.max(...ingests))} /s | | PushEvent intake ÷ Ingest: ${pushVsIngest.toFixed(2)} | ≥ 0.8: ${pushVsIngest >= 0.8 ? 'met' : 'missed'} |`,
    );
    ratios.push({
      id: 'P7',
      measure: `unitary PushEvent intake (${UNITARY} calls, 32 callers)`,
      value: median(unitaryIntakes),
      unit: 'calls/s',
      baseline: { measure: 'unitary Ingest, same callers and gateway', value: median(ingests), unit: 'calls/s' },
      ratio: pushVsIngest,
      goal: `≥ ${TARGET}/s and ≥ 0.8 of Ingest`,
      met: median(unitaryIntakes) >= TARGET && pushVsIngest >= 0.8,
    });
    ratios.push({
      id: 'P7',
      measure: 'unitary PushEvent end to end (intake to message sent)',
      value: median(unitaryRates),
      unit: 'events/s',
      goal: `≥ ${TARGET}/s`,
      met: median(unitaryRates) >= TARGET,
    });
    const drains = [];
    for (let r = 0; r < RUNS; r++) drains.push(await drainBacklog(EVENTS));
    rows.push(
      `| backlog drain (${EVENTS} events waiting in Kafka, cloud-executor restarted) | ${Math.round(median(drains))} /s | ${Math.round(Math.min(...drains))} – ${Math.round(Math.max(...drains))} /s | | | ≥ ${TARGET}/s: ${median(drains) >= TARGET ? 'met' : 'missed'} |`,
    );
    process.stdout.write(
      [
        `P7 message-center benchmark: ${RUNS} runs per mode — ${runInfoLine(runInfo)}`,
        '',
        '| mode | end to end (median) | range | baseline: intake alone | ratio | target |',
        '|---|---:|---:|---:|---:|---|',
        ...rows,
        '',
      ].join('\n'),
    );
    recordRatios(join(__dirname, '..', '..', '..'), 'message-center', runInfo, ratios);
  } finally {
    await local.end();
    await cloud.end();
    await platform.stop();
    rmSync(outDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  log(String(err?.stack ?? err));
  process.exit(1);
});
