/**
 * P8 — a delivery of 100,000 recipients (target + logs + render + file channel) in ≤ 60 s (docs/targets.md).
 * Run: `npx tsx apps/cloud-executor/bench/delivery.bench.ts` (also `npm run bench -- delivery`) after
 * `node infra/scripts/build-app.mjs all`. Options: `--recipients <n>` (default 100000), `--runs <n>` (default 3).
 *
 * Set-up: the four services as OS processes from their bundles (startTestPlatform: own databases, topic prefix),
 * the file channel writing to a temporary folder. `recipients` rows are inserted into the cloud DB's
 * nms_recipient (one INSERT … SELECT generate_series; 1 % denylisted, which the target excludes). A template with
 * a personalised subject and an HTML body of four fields is written through the SDK and waited for in the cloud
 * copy. Each run: nms:delivery#SubmitDelivery through the gateway with a where clause matching the population;
 * the clock runs from the call until the job is finished in the cloud DB (targeting = until the logs are
 * written); "visible" = until queryDef on nms:delivery (local-store) shows the final indicators.
 *
 * Baseline measured in the same run (the machine is shared; the ratio says more): the same number of rows
 * written by one INSERT … SELECT into a scratch table shaped like nms_broad_log_rcp, plus the same number of
 * JSON lines (same shape and size as the channel's) written to a file by Node.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { sdkLogon, startTestPlatform, uniqueId, waitFor } from '@cap/platform-testing';

const { values: args } = parseArgs({ options: { recipients: { type: 'string', default: '100000' }, runs: { type: 'string', default: '3' } } });
const N = Math.max(1_000, Number(args.recipients));
const RUNS = Math.max(1, Number(args.runs));
const TARGET_S = 60;
const log = (text: string) => process.stderr.write(`${text}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const outDir = mkdtempSync(join(tmpdir(), 'cap-bench-delivery-'));
  const platform = await startTestPlatform({
    apps: ['local-store', 'cloud-executor', 'staging-sync', 'api-gateway'],
    env: { LOG_LEVEL: 'warn', NODE_ENV: 'production' },
    envFor: { 'cloud-executor': { CHANNEL_FILE_DIR: outDir } },
  });
  const cloud = new pg.Pool({ connectionString: platform.cloudDb.url, max: 2 });
  try {
    const client = await sdkLogon(platform.gatewayUrl, 'admin', 'admin');
    const NLWS = client.NLWS;

    log(`seeding ${N} recipients…`);
    await cloud.query(
      `INSERT INTO nms_recipient (id, email, first_name, last_name, birth_date, black_list, location_city, created, last_modified)
       SELECT 'bench' || g, 'r' || g || '@bench.test', 'First' || g, 'Last' || g, date '1970-01-01' + (g % 15000), g % 100 = 0, 'City' || (g % 500), now(), now()
         FROM generate_series(1, $1::int) AS g`,
      [N],
    );
    await cloud.query('ANALYZE nms_recipient');
    const template = uniqueId('BENCH').replace(/[^A-Za-z0-9_]/g, '_');
    await NLWS.xtkSession.write({
      xtkschema: 'nms:delivery',
      internalName: template,
      isModel: true,
      label: 'P8 benchmark',
      mailParameters: { subject: 'News for <%= recipient.firstName %> <%= recipient.lastName %>', senderAddress: 'bench@example.com' },
      $content:
        "<html><body><h1>Hello <%= recipient.firstName %>,</h1><p>Your city: <%= recipient.location.city %>. Born <%= formatDate(recipient.birthDate, '%2D/%2M/%4Y') %>.</p>" +
        '<p>Write to us: <a href="mailto:hello@example.com">hello@example.com</a>. Unsubscribe: https://example.com/u?e=<%= escapeUrl(recipient.email) %></p></body></html>',
    });
    await waitFor(
      'the template in the cloud DB',
      async () => (await cloud.query('SELECT 1 FROM nms_delivery WHERE internal_name = $1', [template])).rowCount === 1,
      { timeoutMs: 20_000 },
    );

    const results: { total: number; targeting: number; sending: number; visible: number; baseline: number }[] = [];
    for (let run = 1; run <= RUNS; run++) {
      const baseline = await measureBaseline(cloud, outDir, N);
      const label = `P8 run ${run} ${uniqueId('x')}`;
      const t0 = performance.now();
      await NLWS.nmsDelivery.SubmitDelivery(template, { label, targets: { where: { condition: { expr: "@email LIKE '%@bench.test'" } } } });
      let targetedAt = 0;
      let job: { id: string; phase: string; to_deliver: number; success: number; error: number } | undefined;
      for (;;) {
        job = (
          await cloud.query("SELECT delivery_id::text AS id, phase, to_deliver, success, error FROM cap_delivery_job WHERE definition->>'label' = $1", [label])
        ).rows[0];
        if (job?.phase !== 'targeting' && job && !targetedAt) targetedAt = performance.now();
        if (job?.phase === 'finished' || job?.phase === 'failed') break;
        if (performance.now() - t0 > 300_000) throw new Error('the delivery did not finish within 300 s');
        await sleep(25);
      }
      const finishedAt = performance.now();
      if (job.phase !== 'finished' || job.success !== job.to_deliver) throw new Error(`delivery ended ${job.phase}: ${JSON.stringify(job)}`);
      await waitFor(
        'final indicators on nms:delivery (local)',
        async () => {
          const r = await NLWS.xtkQueryDef
            .create({
              schema: 'nms:delivery',
              operation: 'get',
              select: { node: [{ expr: '@state' }, { expr: '[properties/@success]' }] },
              where: { condition: { expr: `@id = ${job!.id}` } },
            })
            .executeQuery()
            .catch(() => undefined);
          return r && Number(r.state) === 95 && Number(r.properties?.success) === job!.success;
        },
        { timeoutMs: 60_000, intervalMs: 50 },
      );
      const visibleAt = performance.now();
      const lines = readdirSync(outDir)
        .filter((f) => f.startsWith(`dlv-${job.id}-`))
        .reduce((n, f) => n + readFileSync(join(outDir, f), 'utf8').split('\n').filter(Boolean).length, 0);
      if (lines !== job.success) throw new Error(`the file channel has ${lines} messages for ${job.success} sent`);
      const r = {
        total: (finishedAt - t0) / 1000,
        targeting: (targetedAt - t0) / 1000,
        sending: (finishedAt - targetedAt) / 1000,
        visible: (visibleAt - t0) / 1000,
        baseline,
      };
      results.push(r);
      log(
        `run ${run}: ${job.to_deliver} messages (${N - job.to_deliver} denylisted excluded) in ${r.total.toFixed(2)} s (targeting ${r.targeting.toFixed(2)} s, sending ${r.sending.toFixed(2)} s, visible on nms:delivery ${r.visible.toFixed(2)} s); baseline ${baseline.toFixed(2)} s; load ${loadavg()[0]!.toFixed(1)}`,
      );
      for (const f of readdirSync(outDir)) rmSync(join(outDir, f));
      await cloud.query('DELETE FROM nms_broad_log_rcp WHERE delivery_id = $1', [job.id]);
    }
    const m = (k: keyof (typeof results)[number]) => median(results.map((r) => r[k]));
    const range = (k: keyof (typeof results)[number]) =>
      `${Math.min(...results.map((r) => r[k])).toFixed(2)} – ${Math.max(...results.map((r) => r[k])).toFixed(2)}`;
    process.stdout.write(
      [
        `P8 delivery benchmark: ${N} recipients, ${RUNS} runs, ${cpus().length} cores, Node ${process.version}`,
        '',
        '| measure | median | range | target |',
        '|---|---:|---:|---|',
        `| SubmitDelivery → finished (target + logs + render + file channel) | ${m('total').toFixed(2)} s | ${range('total')} s | ≤ ${TARGET_S} s: ${m('total') <= TARGET_S ? 'met' : 'missed'} |`,
        `| of which targeting (INSERT … SELECT of the logs) | ${m('targeting').toFixed(2)} s | ${range('targeting')} s | |`,
        `| of which sending (read, render, write, statuses) | ${m('sending').toFixed(2)} s | ${range('sending')} s | |`,
        `| throughput | ${Math.round((N * 0.99) / m('total'))} messages/s | | |`,
        `| SubmitDelivery → final indicators on nms:delivery (local) | ${m('visible').toFixed(2)} s | ${range('visible')} s | |`,
        `| baseline: bare INSERT … SELECT of ${N} rows + ${N} JSON lines to a file | ${m('baseline').toFixed(2)} s | ${range('baseline')} s | |`,
        `| ratio delivery / baseline | ${(m('total') / m('baseline')).toFixed(1)}× | | |`,
        '',
      ].join('\n'),
    );
  } finally {
    await cloud.end();
    await platform.stop();
    rmSync(outDir, { recursive: true, force: true });
  }
}

/** The floor: writing as many rows and as many JSON lines, without the delivery's logic. */
async function measureBaseline(cloud: pg.Pool, dir: string, n: number): Promise<number> {
  const t0 = performance.now();
  await cloud.query('DROP TABLE IF EXISTS bench_scratch');
  await cloud.query('CREATE TABLE bench_scratch (LIKE nms_broad_log_rcp)');
  await cloud.query(`INSERT INTO bench_scratch (id, delivery_id, recipient_id, address, status, failure_reason, event_date, last_modified)
                     SELECT gen_random_uuid()::text, 1, id, email, 0, 0, now(), now() FROM nms_recipient WHERE email LIKE '%@bench.test'`);
  const body =
    '<html><body><h1>Hello First12345,</h1><p>Your city: City123. Born 01/02/1999.</p><p>Write to us: <a href="mailto:hello@example.com">hello@example.com</a>. Unsubscribe: https://example.com/u?e=r12345%40bench.test</p></body></html>';
  const lines: string[] = [];
  for (let i = 0; i < n; i++)
    lines.push(
      JSON.stringify({
        id: `id${i}`,
        kind: 'email',
        to: `r${i}@bench.test`,
        from: 'bench@example.com',
        subject: `News for First${i} Last${i}`,
        body,
        meta: { deliveryId: '1', delivery: 'DM1' },
        sentAt: new Date().toISOString(),
      }),
    );
  writeFileSync(join(dir, 'baseline.jsonl'), `${lines.join('\n')}\n`);
  const elapsed = (performance.now() - t0) / 1000;
  await cloud.query('DROP TABLE bench_scratch');
  rmSync(join(dir, 'baseline.jsonl'));
  return elapsed;
}

main().catch((err) => {
  log(String(err?.stack ?? err));
  process.exit(1);
});
