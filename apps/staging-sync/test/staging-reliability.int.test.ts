import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { TOPICS, type StagedChange } from '@cap/contracts';
import { createMessaging } from '@cap/platform-kafka';
import { createLogger } from '@cap/platform-logger';
import {
  startServiceProcess,
  startTcpProxy,
  startTestBroker,
  testEndpoints,
  waitFor,
  type ServiceProcess,
  type TestBroker,
  type TestPlatform,
} from '@cap/platform-testing';
import { joinEnv, startStagingClient, stopStagingClient, useStagingClient, type Nlws } from './fixtures/staging.client';

/**
 * Continuous IngestExt traffic over a fixed key space, each key owned by one writer loop so its last
 * acknowledged operation is known: upserts of firstName=v<n>, and every seventh operation a delete. A call that
 * fails (an outage on purpose) is retried with the same values until acknowledged, so the expected final
 * state stays exact.
 */
function startWriter(NLWS: { xtkSession: { ingestExt(doc: object): Promise<unknown> } }, prefix: string, loops = 4, keysPerLoop = 30) {
  const expected = new Map<string, string | null>();
  let stop = false;
  let acknowledged = 0;
  let failures = 0;
  const run = async (loop: number) => {
    for (let n = 0; !stop; n++) {
      const email = `${prefix}-${loop}-${n % keysPerLoop}@example.com`;
      const del = n % 7 === 6;
      const doc = del
        ? { xtkschema: 'nms:recipientStg', _key: '@email', _operation: 'delete', email }
        : { xtkschema: 'nms:recipientStg', _key: '@email', email, firstName: `v${n}` };
      for (;;) {
        try {
          await NLWS.xtkSession.ingestExt(doc);
          break;
        } catch {
          failures++;
          await sleep(200);
        }
      }
      acknowledged++;
      expected.set(email, del ? null : `v${n}`);
    }
  };
  const done = Promise.all(Array.from({ length: loops }, (_, i) => run(i)));
  return {
    expected,
    stats: () => ({ acknowledged, failures }),
    async stop() {
      stop = true;
      await done;
    },
  };
}

async function waitForDrain(local: pg.Pool, timeoutMs = 120_000): Promise<void> {
  await waitFor(
    'every staged row acknowledged by staging-sync',
    async () => {
      const r = await local.query('SELECT (SELECT count(*) FROM nms_recipient_stg WHERE cap_synced_at IS NULL) + (SELECT count(*) FROM cap_outbox) AS n');
      return Number(r.rows[0].n) === 0;
    },
    { timeoutMs, intervalMs: 250 },
  );
}

/** Local intent vs cloud state, key by key: missing, duplicated and stale rows. */
async function compare(cloud: pg.Pool, prefix: string, expected: Map<string, string | null>) {
  const { rows } = await cloud.query<{ email: string; first_name: string | null; n: number }>(
    'SELECT email, max(first_name) AS first_name, count(*)::int AS n FROM nms_recipient WHERE email LIKE $1 GROUP BY email',
    [`${prefix}-%`],
  );
  const actual = new Map(rows.map((r) => [r.email, r]));
  const problems = { missing: [] as string[], duplicated: [] as string[], stale: [] as string[], resurrected: [] as string[] };
  for (const [email, firstName] of expected) {
    const row = actual.get(email);
    if (firstName === null) {
      if (row) problems.resurrected.push(email);
    } else if (!row) problems.missing.push(email);
    else if (row.n > 1) problems.duplicated.push(email);
    else if (row.first_name !== firstName) problems.stale.push(`${email}: ${row.first_name} ≠ ${firstName}`);
  }
  return problems;
}

const NO_PROBLEMS = { missing: [], duplicated: [], stale: [], resurrected: [] };

describe('staging-sync reliability on the shared broker (R1, R3, R6)', () => {
  const workers: ServiceProcess[] = [];
  // Synced staging rows are purged 2 s after their acknowledgement here (a day by default).
  const s = useStagingClient(
    {
      apps: ['local-store', 'cloud-executor', 'api-gateway'],
      envFor: { 'local-store': { STAGING_RETENTION_SECONDS: '2', STAGING_PURGE_INTERVAL_MS: '500' } },
    },
    workers,
  );
  const workerEnv = (cloudUrl?: string) => joinEnv(s.platform, { CLOUD_DATABASE_URL: cloudUrl ?? s.platform.cloudDb.url, CLOUD_BREAKER_RESET_MS: '1000' });

  // Four workers (P4: correctness with 4 workers everywhere), each SIGKILLed and replaced in turn.
  it('when four staging-sync workers are SIGKILLed 20 times mid-flow while members leave and join, then local and cloud agree row for row (R1)', async () => {
    for (let i = 0; i < 4; i++) workers.push(await startServiceProcess('staging-sync', workerEnv()));
    await Promise.all(workers.map((w) => w.waitUntilReady()));
    const writer = startWriter(s.NLWS, 'r1');
    let kills = 0;
    const giveUp = Date.now() + 150_000;
    while (kills < 20) {
      if (Date.now() > giveUp) throw new Error(`only ${kills} kills in 150 s`);
      await sleep(500 + Math.random() * 700);
      // The victim is a worker that is a settled member of the group: it owns partitions and is applying batches.
      let victim: ServiceProcess | undefined;
      for (const w of workers) {
        if ((await w.readyz().catch(() => ({ status: 0 }))).status === 200) {
          victim = w;
          break;
        }
      }
      if (!victim) continue;
      workers.splice(workers.indexOf(victim), 1);
      victim.signal('SIGKILL');
      await victim.exited;
      kills++;
      // Its replacement joins while the others carry on: members come and go all through the run.
      workers.push(await startServiceProcess('staging-sync', workerEnv()));
    }
    await writer.stop();
    await waitForDrain(s.local);
    const problems = await compare(s.cloud, 'r1', writer.expected);
    console.log(`R1: ${writer.stats().acknowledged} acknowledged IngestExt calls, ${kills} SIGKILLs, ${writer.expected.size} keys compared`);
    expect(problems).toEqual(NO_PROBLEMS);
    expect(writer.stats().acknowledged).toBeGreaterThan(200);
  }, 300_000);

  it('when a second local-store replica joins and the first is SIGKILLed mid-flow, then every acknowledged write still reaches the cloud once, and synced rows are purged after the retention', async () => {
    workers.push(await startServiceProcess('staging-sync', workerEnv()));
    const second = await startServiceProcess(
      'local-store',
      joinEnv(s.platform, { LOCAL_DATABASE_URL: s.platform.localDb.url, STAGING_RETENTION_SECONDS: '2', STAGING_PURGE_INTERVAL_MS: '500' }),
    );
    await second.waitUntilReady();
    const writer = startWriter(s.NLWS, 'ls', 3, 20);
    await waitFor('calls acknowledged before the kill', () => writer.stats().acknowledged >= 10, { timeoutMs: 30_000, intervalMs: 50 });
    // The first replica serves half the requests and may hold the relay: it dies without a goodbye.
    const first = s.platform.procs.get('local-store')!;
    first.signal('SIGKILL');
    await first.exited;
    const atKill = writer.stats().acknowledged;
    // Past the group's session timeout (10 s) the survivor owns every request partition: writes flow again.
    await waitFor('calls acknowledged by the surviving replica', () => writer.stats().acknowledged >= atKill + 10, { timeoutMs: 60_000, intervalMs: 100 });
    await writer.stop();
    await waitForDrain(s.local, 90_000);
    expect(await compare(s.cloud, 'ls', writer.expected)).toEqual(NO_PROBLEMS);
    expect(writer.stats().acknowledged - atKill).toBeGreaterThan(3);
    await waitFor('synced staging rows purged', async () => Number((await s.local.query('SELECT count(*) AS n FROM nms_recipient_stg')).rows[0].n) === 0, {
      timeoutMs: 40_000,
    });
    s.platform.procs.set('local-store', second);
  }, 180_000);

  it('when an older change of a key is delivered again after a newer one, then the newer value stays (R6)', async () => {
    const messaging = createMessaging({
      brokers: testEndpoints().kafkaBrokers,
      clientId: 'r6-test',
      topicPrefix: s.platform.topicPrefix,
      logger: createLogger({ service: 'r6-test', level: 'warn' }),
    });
    try {
      const change = (seq: string, firstName: string, email = 'r6@example.com'): StagedChange => ({
        kind: 'record',
        schema: 'nms:recipient',
        source: 'nms:recipientStg',
        seq,
        op: 'upsert',
        keyColumns: ['email'],
        fields: ['email', 'first_name'],
        record: { email, first_name: firstName },
        recordedAt: new Date().toISOString(),
      });
      const key = 'nms:recipient|email=r6@example.com';
      await messaging.publish(TOPICS.stagingChanges, [{ key, payload: change('900000010', 'newer') }]);
      await waitFor(
        'the newer value in the cloud',
        async () => (await s.cloud.query("SELECT first_name FROM nms_recipient WHERE email = 'r6@example.com'")).rows[0]?.first_name === 'newer',
      );
      await messaging.publish(TOPICS.stagingChanges, [
        { key, payload: change('900000005', 'older') },
        { key, payload: change('900000010', 'newer-replayed') },
        { key: 'nms:recipient|email=r6-marker@example.com', payload: change('900000011', 'marker', 'r6-marker@example.com') },
      ]);
      // The marker sits behind the redeliveries on some partition; once it is in, wait one more batch time.
      await waitFor(
        'the marker applied',
        async () => (await s.cloud.query("SELECT 1 FROM nms_recipient WHERE email = 'r6-marker@example.com'")).rowCount === 1,
      );
      await sleep(1_000);
      expect((await s.cloud.query("SELECT first_name, cap_seq::text FROM nms_recipient WHERE email = 'r6@example.com'")).rows).toEqual([
        { first_name: 'newer', cap_seq: '900000010' },
      ]);
    } finally {
      await messaging.close();
    }
  });

  it('when the cloud DB is unreachable for 30 s, then the breaker opens, the backlog waits, and sync resumes by itself with nothing lost (R3)', async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    const target = new URL(s.platform.cloudDb.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    try {
      const viaProxy = new URL(s.platform.cloudDb.url);
      viaProxy.port = String(proxy.port);
      viaProxy.hostname = '127.0.0.1';
      const worker = await startServiceProcess('staging-sync', workerEnv(viaProxy.toString()));
      workers.push(worker);
      await worker.waitUntilReady();
      const writer = startWriter(s.NLWS, 'r3', 2, 20);
      await waitFor('calls acknowledged before the outage', () => writer.stats().acknowledged >= 5, { timeoutMs: 30_000, intervalMs: 50 });
      await proxy.stop();
      const outageStarted = Date.now();
      const breakerOpen = await waitFor(
        'the cloud-db breaker to open',
        async () => /cap_breaker_state\{breaker="cloud-db"[^}]*\} 2/.test(await (await fetch(`${worker.url}/metrics`)).text()),
        { timeoutMs: 25_000, intervalMs: 250 },
      );
      expect(breakerOpen).toBe(true);
      // The backlog grows while the cloud DB is away (the outage lasts 30 s: the scenario, not a wait for an outcome)…
      await sleep(Math.max(0, 30_000 - (Date.now() - outageStarted)));
      const backlog = Number((await s.local.query('SELECT count(*) AS n FROM nms_recipient_stg WHERE cap_synced_at IS NULL')).rows[0].n);
      expect(backlog).toBeGreaterThan(0);
      await proxy.start();
      await writer.stop();
      // … and drains by itself once it is back.
      await waitForDrain(s.local, 60_000);
      expect(await compare(s.cloud, 'r3', writer.expected)).toEqual(NO_PROBLEMS);
    } finally {
      await proxy.stop().catch(() => undefined);
    }
  }, 180_000);

  it('when PostgreSQL drops every local-store connection mid-flow (as a database restart does), then local-store stays up, its relay leads again, and every acknowledged write reaches the cloud', async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    const worker = await startServiceProcess('staging-sync', workerEnv());
    workers.push(worker);
    await worker.waitUntilReady();
    const store = s.platform.procs.get('local-store')!;
    let storeEnded: unknown;
    void store.exited.then((how) => (storeEnded = how));
    const leaders = async () =>
      Number(
        (
          await s.local.query(
            `SELECT count(*) AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid)
              WHERE l.locktype = 'advisory' AND l.objid = 7245002 AND l.granted AND a.datname = current_database() AND a.application_name LIKE 'local-store%'`,
          )
        ).rows[0].n,
      );
    const writer = startWriter(s.NLWS, 'pgdrop', 2, 20);
    await waitFor('calls acknowledged before the drop', () => writer.stats().acknowledged >= 10, { timeoutMs: 30_000, intervalMs: 50 });
    await waitFor('a local-store relay leading', async () => (await leaders()) === 1);
    const { rows } = await s.local.query(
      "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'local-store%'",
    );
    expect(rows[0].n).toBeGreaterThan(1);
    const atDrop = writer.stats().acknowledged;
    await waitFor('calls acknowledged after the drop', () => writer.stats().acknowledged >= atDrop + 10, { timeoutMs: 30_000, intervalMs: 50 });
    await waitFor('the relay listening and leading again', async () => (await leaders()) === 1, { timeoutMs: 30_000 });
    await writer.stop();
    await waitForDrain(s.local, 60_000);
    expect(await compare(s.cloud, 'pgdrop', writer.expected)).toEqual(NO_PROBLEMS);
    expect(storeEnded).toBeUndefined();
    expect(store.logs.filter((l) => l['event'] === 'outbox.listen_lost')).not.toHaveLength(0);
    expect(store.logs.filter((l) => l['level'] === 'fatal')).toEqual([]);
  }, 120_000);
});

describe('staging-sync reliability on a broker of its own (R2)', () => {
  let broker: TestBroker;
  let platform: TestPlatform;
  let NLWS: Nlws;
  let local: pg.Pool;
  let cloud: pg.Pool;

  beforeAll(async () => {
    broker = await startTestBroker();
    ({ platform, NLWS, local, cloud } = await startStagingClient({
      apps: ['local-store', 'cloud-executor', 'staging-sync', 'api-gateway'],
      env: { KAFKA_BROKERS: broker.brokers.join(',') },
    }));
  });

  afterAll(async () => {
    await stopStagingClient({ platform, local, cloud });
    broker?.dispose();
  });

  it('when the Kafka broker restarts mid-flow, then every acknowledged Ingest reaches the cloud DB (R2)', async () => {
    const writer = startWriter(NLWS, 'r2', 2, 20);
    // Traffic before the restart and after it (the platform has recovered), whatever the machine's speed.
    await waitFor('calls acknowledged before the restart', () => writer.stats().acknowledged >= 10, { timeoutMs: 30_000, intervalMs: 50 });
    broker.stop();
    await sleep(2_000);
    broker.start();
    const beforeRecovery = writer.stats().acknowledged;
    await waitFor('calls acknowledged after the restart', () => writer.stats().acknowledged >= beforeRecovery + 5, { timeoutMs: 60_000, intervalMs: 100 });
    await writer.stop();
    await waitForDrain(local, 90_000);
    expect(await compare(cloud, 'r2', writer.expected)).toEqual(NO_PROBLEMS);
    expect(writer.stats().acknowledged).toBeGreaterThan(10);
  }, 180_000);
});
