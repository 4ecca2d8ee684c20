import { setTimeout as sleep } from 'node:timers/promises';
import { TOPICS, type StagedChange } from '@cap/contracts';
import { createMessaging } from '@cap/platform-kafka';
import { createLogger } from '@cap/platform-logger';
import { startServiceProcess, testEndpoints, uniqueId, waitFor, type ServiceProcess } from '@cap/platform-testing';
import { joinEnv, useStagingClient } from './fixtures/staging.client';

/**
 * One record named by two keys: an Ingest (keyed by its generated @id), then an IngestExt of the same recipient
 * keyed by @email, then an IngestExt keyed by @id again. By their own keys the three changes would travel on
 * different partitions and could reach the cloud DB in any order (the update by email finding no row and
 * inserting a second one). Wide batching windows and three workers make that likely; the relay's routing must
 * keep each record's changes in order.
 */
describe('staging order across the keys of one record', () => {
  const workers: ServiceProcess[] = [];

  // Rounds of the relay every 200 ms, and workers that wait up to 500 ms for a batch: wide windows.
  const s = useStagingClient({ apps: ['local-store', 'cloud-executor', 'api-gateway'], envFor: { 'local-store': { OUTBOX_LINGER_MS: '200' } } }, workers);

  beforeAll(async () => {
    for (let i = 0; i < 3; i++)
      workers.push(await startServiceProcess('staging-sync', joinEnv(s.platform, { CLOUD_DATABASE_URL: s.platform.cloudDb.url, SYNC_MAX_WAIT_MS: '500' })));
    await Promise.all(workers.map((w) => w.waitUntilReady()));
  });

  it('when a record is staged by @id, then updated by @email and by @id at once, then the cloud DB holds one row with every change, in order', async () => {
    const ids = new Map<string, string>();
    const loop = async (l: number) => {
      for (let n = 0; n < 25; n++) {
        const email = `xk-${l}-${n}@example.com`;
        const id: string = await s.NLWS.xtkSession.ingest({ xtkschema: 'nms:recipientStg', email, firstName: 'first' });
        ids.set(email, id);
        await s.NLWS.xtkSession.ingestExt({ xtkschema: 'nms:recipientStg', _key: '@email', email, lastName: 'byEmail' });
        await s.NLWS.xtkSession.ingestExt({ xtkschema: 'nms:recipientStg', _key: '@id', id, firstName: 'last' });
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, l) => loop(l)));
    await waitFor(
      'every staged row applied',
      async () =>
        (await s.local.query('SELECT (SELECT count(*) FROM nms_recipient_stg WHERE cap_synced_at IS NULL) + (SELECT count(*) FROM cap_outbox) AS n')).rows[0]
          .n === '0',
      { timeoutMs: 60_000, intervalMs: 250 },
    );

    const { rows } = await s.cloud.query<{ email: string; id: string; first_name: string; last_name: string | null }>(
      "SELECT email, id, first_name, last_name FROM nms_recipient WHERE email LIKE 'xk-%' ORDER BY email, id",
    );
    const byEmail = new Map<string, typeof rows>();
    for (const r of rows) byEmail.set(r.email, [...(byEmail.get(r.email) ?? []), r]);
    const problems: string[] = [];
    for (const [email, id] of ids) {
      const found = byEmail.get(email) ?? [];
      if (found.length !== 1) problems.push(`${email}: ${found.length} rows`);
      else if (found[0]!.id !== id || found[0]!.first_name !== 'last' || found[0]!.last_name !== 'byEmail')
        problems.push(`${email}: ${JSON.stringify(found[0])}`);
    }
    expect(problems).toEqual([]);
    expect(ids.size).toBe(200);

    // The relay did send changes behind their record's live change, and has let go of them since.
    const metrics = await (await fetch(`${s.platform.procs.get('local-store')!.url}/metrics`)).text();
    expect(Number(/^cap_outbox_routed_behind_total\{[^}]*\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    await waitFor(
      'the relay tracks nothing once all is applied',
      async () => /^cap_outbox_live_changes\{[^}]*\} 0$/m.test(await (await fetch(`${s.platform.procs.get('local-store')!.url}/metrics`)).text()),
      { timeoutMs: 10_000 },
    );
  }, 120_000);
});

/**
 * The relay's routes live in the leading local-store replica. When it dies, the replica that takes the lead must
 * know which changes are still in flight and under which route each travelled, or the next change of a record
 * could overtake them on another partition. No staging-sync runs until the end, so everything stays in flight.
 */
describe('staging order across keys when another local-store replica takes the relay over', () => {
  const extra: ServiceProcess[] = [];

  const s = useStagingClient({ apps: ['local-store', 'cloud-executor', 'api-gateway'] }, extra);

  /** Every staged change of the record published so far, with its message key. */
  async function publishedChanges(email: string, id: string, atLeast: number): Promise<{ key: string; seq: string }[]> {
    const messaging = createMessaging({
      brokers: testEndpoints().kafkaBrokers,
      clientId: 'xk-reader',
      topicPrefix: s.platform.topicPrefix,
      logger: createLogger({ service: 'xk-reader', level: 'warn' }),
    });
    const consumer = messaging.kafka.consumer({ groupId: uniqueId('xk-reader') });
    const seen = new Map<string, string>();
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: messaging.topicName(TOPICS.stagingChanges), fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          const change = (JSON.parse(message.value!.toString('utf8')) as { payload: StagedChange }).payload;
          if (change.kind === 'record' && (change.record['email'] === email || change.record['id'] === id)) seen.set(change.seq, message.key!.toString('utf8'));
        },
      });
      await waitFor(`${atLeast} changes of ${email} on the staging topic`, async () => seen.size >= atLeast, { timeoutMs: 30_000 });
    } finally {
      await consumer.disconnect();
      await messaging.close();
    }
    return [...seen].map(([seq, key]) => ({ seq, key })).sort((a, b) => Number(a.seq) - Number(b.seq));
  }

  it('when the leading replica dies while a record is in flight under another key, then the new leader keeps sending its changes behind it', async () => {
    const email = 'takeover@example.com';
    const id: string = await s.NLWS.xtkSession.ingest({ xtkschema: 'nms:recipientStg', email, firstName: 'first' });
    await s.NLWS.xtkSession.ingestExt({ xtkschema: 'nms:recipientStg', _key: '@email', email, lastName: 'byEmail' });
    const route = `nms:recipient|id=${id}`;
    // Published, and the update by email stored as travelling behind the Ingest.
    await waitFor('both changes published, one routed behind the other', async () => {
      const r = await s.local.query('SELECT (SELECT count(*) FROM cap_outbox)::int AS outbox, (SELECT array_agg(route) FROM cap_outbox_route) AS routes');
      return r.rows[0].outbox === 0 && JSON.stringify(r.rows[0].routes) === JSON.stringify([route]);
    });

    const second = await startServiceProcess('local-store', joinEnv(s.platform, { LOCAL_DATABASE_URL: s.platform.localDb.url }));
    extra.push(second);
    await second.waitUntilReady();
    const first = s.platform.procs.get('local-store')!;
    first.signal('SIGKILL');
    await first.exited;
    await waitFor('the second replica leads the relay', async () => second.logs.some((l) => l['event'] === 'outbox.leading'), { timeoutMs: 30_000 });

    // Another update by email: by its own key it would go to another partition than the two in flight.
    const giveUp = Date.now() + 60_000;
    for (;;) {
      try {
        await s.NLWS.xtkSession.ingestExt({ xtkschema: 'nms:recipientStg', _key: '@email', email, firstName: 'last' });
        break;
      } catch (err) {
        if (Date.now() > giveUp) throw err; // the gateway reaches the survivor once the group has rebalanced
        await sleep(500);
      }
    }
    const changes = await publishedChanges(email, id, 3);
    expect(changes.map((c) => c.key)).toEqual(changes.map(() => route));

    // And once a worker runs, the cloud DB holds the one record with every change.
    extra.push(await startServiceProcess('staging-sync', joinEnv(s.platform, { CLOUD_DATABASE_URL: s.platform.cloudDb.url })));
    await waitFor(
      'the record applied',
      async () => (await s.cloud.query('SELECT 1 FROM nms_recipient WHERE email = $1 AND first_name = $2', [email, 'last'])).rowCount === 1,
      { timeoutMs: 60_000 },
    );
    expect((await s.cloud.query('SELECT id, first_name, last_name FROM nms_recipient WHERE email = $1', [email])).rows).toEqual([
      { id, first_name: 'last', last_name: 'byEmail' },
    ]);
    await waitFor(
      'the stored route let go once applied',
      async () => (await s.local.query('SELECT count(*)::int AS n FROM cap_outbox_route')).rows[0].n === 0,
      { timeoutMs: 15_000 },
    );
  }, 180_000);
});
