import pg from 'pg';
import { startServiceProcess, startTestPlatform, testEndpoints, waitFor, type ServiceProcess, type TestPlatform } from '@cap/platform-testing';

const sdk = require('@adobe/acc-js-sdk');

/**
 * One record named by two keys: an Ingest (keyed by its generated @id), then an IngestExt of the same recipient
 * keyed by @email, then an IngestExt keyed by @id again. By their own keys the three changes would travel on
 * different partitions and could reach the cloud DB in any order (the update by email finding no row and
 * inserting a second one). Wide batching windows and three workers make that likely; the relay's routing must
 * keep each record's changes in order.
 */
describe('staging order across the keys of one record', () => {
  let platform: TestPlatform;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let NLWS: any;
  let local: pg.Pool;
  let cloud: pg.Pool;
  const workers: ServiceProcess[] = [];

  beforeAll(async () => {
    // Rounds of the relay every 200 ms, and workers that wait up to 500 ms for a batch: wide windows.
    platform = await startTestPlatform({
      apps: ['local-store', 'cloud-executor', 'api-gateway'],
      envFor: { 'local-store': { OUTBOX_LINGER_MS: '200' } },
    });
    const env = {
      KAFKA_BROKERS: testEndpoints().kafkaBrokers.join(','),
      KAFKA_TOPIC_PREFIX: platform.topicPrefix,
      CLOUD_DATABASE_URL: platform.cloudDb.url,
      SYNC_MAX_WAIT_MS: '500',
    };
    for (let i = 0; i < 3; i++) workers.push(await startServiceProcess('staging-sync', env));
    await Promise.all(workers.map((w) => w.waitUntilReady()));
    const client = await sdk.init(sdk.ConnectionParameters.ofUserAndPassword(platform.gatewayUrl, 'admin', 'admin'));
    await client.logon();
    NLWS = client.NLWS;
    local = new pg.Pool({ connectionString: platform.localDb.url, max: 2 });
    cloud = new pg.Pool({ connectionString: platform.cloudDb.url, max: 2 });
  });

  afterAll(async () => {
    await Promise.allSettled(workers.map((w) => w.stop()));
    await local?.end();
    await cloud?.end();
    await platform?.stop();
  });

  it('when a record is staged by @id, then updated by @email and by @id at once, then the cloud DB holds one row with every change, in order', async () => {
    const ids = new Map<string, string>();
    const loop = async (l: number) => {
      for (let n = 0; n < 25; n++) {
        const email = `xk-${l}-${n}@example.com`;
        const id: string = await NLWS.xtkSession.ingest({ xtkschema: 'nms:recipientStg', email, firstName: 'first' });
        ids.set(email, id);
        await NLWS.xtkSession.ingestExt({ xtkschema: 'nms:recipientStg', _key: '@email', email, lastName: 'byEmail' });
        await NLWS.xtkSession.ingestExt({ xtkschema: 'nms:recipientStg', _key: '@id', id, firstName: 'last' });
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, l) => loop(l)));
    await waitFor(
      'every staged row applied',
      async () => (await local.query('SELECT (SELECT count(*) FROM nms_recipient_stg WHERE cap_synced_at IS NULL) + (SELECT count(*) FROM cap_outbox) AS n')).rows[0].n === '0',
      { timeoutMs: 60_000, intervalMs: 250 },
    );

    const { rows } = await cloud.query<{ email: string; id: string; first_name: string; last_name: string | null }>(
      "SELECT email, id, first_name, last_name FROM nms_recipient WHERE email LIKE 'xk-%' ORDER BY email, id",
    );
    const byEmail = new Map<string, typeof rows>();
    for (const r of rows) byEmail.set(r.email, [...(byEmail.get(r.email) ?? []), r]);
    const problems: string[] = [];
    for (const [email, id] of ids) {
      const found = byEmail.get(email) ?? [];
      if (found.length !== 1) problems.push(`${email}: ${found.length} rows`);
      else if (found[0]!.id !== id || found[0]!.first_name !== 'last' || found[0]!.last_name !== 'byEmail') problems.push(`${email}: ${JSON.stringify(found[0])}`);
    }
    expect(problems).toEqual([]);
    expect(ids.size).toBe(200);

    // The relay did send changes behind their record's live change, and has let go of them since.
    const metrics = await (await fetch(`${platform.procs.get('local-store')!.url}/metrics`)).text();
    expect(Number(/^cap_outbox_routed_behind_total\{[^}]*\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    await waitFor(
      'the relay tracks nothing once all is applied',
      async () => /^cap_outbox_live_changes\{[^}]*\} 0$/m.test(await (await fetch(`${platform.procs.get('local-store')!.url}/metrics`)).text()),
      { timeoutMs: 10_000 },
    );
  }, 120_000);
});
