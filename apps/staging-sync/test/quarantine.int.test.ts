import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TOPICS } from '@cap/contracts';
import { createLogger } from '@cap/platform-logger';
import { createMessaging, RETRY_PROFILES } from '@cap/platform-kafka';
import { testEndpoints, uniqueId, waitFor, type TestPlatform } from '@cap/platform-testing';
import type pg from 'pg';
import { startStagingClient, stopStagingClient, type Nlws } from './fixtures/staging.client';

const ROOT = join(__dirname, '..', '..', '..');
const ROUTER = '/nl/jsp/soaprouter.jsp';
const HEALTHY = 1_000;

/**
 * Poison isolation: a change or message that cannot be processed — a staged change, a replicated one, a
 * Subscribe, a message-center status, a workflow state, an unreadable message-center event — is set aside in the
 * quarantine of the database of the service that consumes it, within its retry budget, with its reason; later
 * changes of its key wait behind it; 1,000 healthy changes of other keys behind it reach the cloud database
 * meanwhile. Once the cause is fixed, an administrator's replay (`npm run quarantine -- replay`) delivers it, and
 * what waited behind it, once and in order.
 */
describe('poisoned changes and messages are quarantined, the rest flows, replay delivers them once', () => {
  let platform: TestPlatform;
  let NLWS: Nlws;
  let local: pg.Pool;
  let cloud: pg.Pool;
  let session: { token: string; security: string };
  let limitsDir: string;

  const soap = (urn: string, method: string, inner: string) =>
    fetch(`${platform.gatewayUrl}${ROUTER}`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml', SOAPAction: `${urn}#${method}`, 'X-Security-Token': session.security },
      body: `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><m:${method} xmlns:m="urn:${urn}"><sessiontoken>${session.token}</sessiontoken>${inner}</m:${method}></SOAP-ENV:Body></SOAP-ENV:Envelope>`,
    }).then((r) => r.text());
  const quarantine = (db: pg.Pool) =>
    db
      .query<{ id: string; consumer: string; state: string; message_key: string | null; reason_code: string; reason: string }>(
        'SELECT id::text, consumer, state, message_key, reason_code, reason FROM cap_quarantine ORDER BY id',
      )
      .then((r) => r.rows);
  const quarantineCli = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'infra', 'src', 'quarantine.ts'), ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '', LOCAL_DATABASE_URL: platform.localDb.url, CLOUD_DATABASE_URL: platform.cloudDb.url },
    });

  beforeAll(async () => {
    // Limits far above the 1,000 Ingests this sends at once.
    limitsDir = mkdtempSync(join(tmpdir(), 'cap-quarantine-'));
    const limitsFile = join(limitsDir, 'limits.json');
    writeFileSync(limitsFile, JSON.stringify({ default: { limit: 100_000 } }));
    ({ platform, NLWS, local, cloud } = await startStagingClient({
      apps: ['local-store', 'cloud-executor', 'staging-sync', 'api-gateway'],
      env: { QUARANTINE_RETRY_BUDGET_MS: '2000' },
      envFor: { 'api-gateway': { RATE_LIMITS_FILE: limitsFile } },
    }));
    const logon = await fetch(`${platform.gatewayUrl}${ROUTER}`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml', SOAPAction: 'xtk:session#Logon' },
      body: '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><m:Logon xmlns:m="urn:xtk:session"><sessiontoken/><login>admin</login><password>admin</password><parameters/></m:Logon></SOAP-ENV:Body></SOAP-ENV:Envelope>',
    }).then((r) => r.text());
    session = { token: /<pstrSessionToken[^>]*>([^<]+)</.exec(logon)![1]!, security: /<pstrSecurityToken[^>]*>([^<]+)</.exec(logon)![1]! };
  });

  afterAll(async () => {
    await stopStagingClient({ platform, local, cloud });
    rmSync(limitsDir, { recursive: true, force: true });
  });

  it('when each kind of change is poisoned, then each is quarantined with its reason, its key waits, and 1,000 healthy changes arrive meanwhile; replay after the fix delivers them once', async () => {
    // The causes: rules in the databases that the changes break (an administrator's mistake, say).
    await cloud.query(
      `ALTER TABLE nms_recipient ADD CONSTRAINT cap_test_poison CHECK (coalesce(last_name, '') <> 'POISON' AND coalesce(first_name, '') <> 'POISON')`,
    );
    await cloud.query(`ALTER TABLE nms_service ADD CONSTRAINT cap_test_poison CHECK (coalesce(label, '') <> 'POISON')`);
    await local.query(`ALTER TABLE nms_rt_event ADD CONSTRAINT cap_test_poison CHECK (NOT (coalesce(email, '') LIKE 'poison%' AND status <> 0))`);
    await local.query(`ALTER TABLE xtk_workflow ADD CONSTRAINT cap_test_poison CHECK (coalesce(status, '') NOT LIKE '%POISON%')`);
    const tag = uniqueId('q')
      .replace(/[^a-z0-9]/gi, '')
      .toLowerCase();

    // 1. Staging: an Ingest the cloud refuses.
    const stagedId: string = await NLWS.xtkSession.ingest({ xtkschema: 'nms:recipientStg', email: `staged-${tag}@example.com`, lastName: 'POISON' });
    // 2. Replication: a service the cloud copy refuses.
    await NLWS.xtkSession.write({ xtkschema: 'nms:service', name: `svc${tag}`, label: 'POISON' });
    // 3. Subscription: a Subscribe whose profile the cloud refuses.
    await NLWS.nmsSubscription.Subscribe('newsletter', { _key: '@email', email: `sub-${tag}@example.com`, firstName: 'POISON' }, true);
    // 4. Message center: an event whose status local-store cannot store.
    const eventId: string = await NLWS.nmsRtEvent.pushEvent({ type: 'quarantineTest', email: `poison-${tag}@example.com`, ctx: {} });
    // 5. Workflow: a run whose state (its status text) local-store cannot store.
    const workflow = `WKFQ${tag}`.slice(0, 60);
    await NLWS.xtkSession.write({
      xtkschema: 'xtk:workflow',
      internalName: workflow,
      label: 'quarantine test',
      $activities: `<activities><start name="start"><transition target="work"/></start><js name="work"><script><![CDATA[throw new Error('POISON');]]></script><transition target="end"/></js><end name="end"/></activities>`,
    });
    await NLWS.xtkWorkflow.start(workflow);
    // Once they are set aside, a later change of the staged record and of the service: each waits behind its key's.
    await waitFor(
      'the three staging-sync quarantines',
      async () => (await quarantine(cloud)).filter((r) => r.consumer === 'staging-sync' && r.state === 'quarantined').length === 3,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    await NLWS.xtkSession.ingestExt({ xtkschema: 'nms:recipientStg', _key: '@id', id: stagedId, lastName: 'Fixed' });
    await NLWS.xtkSession.write({ xtkschema: 'nms:service', _key: '@name', name: `svc${tag}`, label: 'Later' });
    // 6. An unreadable message on the message center's topic (a producer of another version, say).
    const messaging = createMessaging({
      brokers: testEndpoints().kafkaBrokers,
      clientId: uniqueId('q'),
      topicPrefix: platform.topicPrefix,
      logger: createLogger({ service: 'q', level: 'silent' }),
      retry: RETRY_PROFILES.fast,
    });
    await messaging.publishRaw(messaging.topicName(TOPICS.messageCenterEvents), [
      { key: `garbage-${tag}`, value: Buffer.from('{"not":"an envelope"}'), headers: {} },
    ]);
    await messaging.close();

    // 1,000 healthy changes of other keys, behind all of that.
    const started = Date.now();
    for (let from = 0; from < HEALTHY; from += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          soap(
            'xtk:session',
            'Ingest',
            `<domDoc><recipientStg xtkschema="nms:recipientStg" email="ok${from + i}-${tag}@example.com" lastName="Healthy"/></domDoc>`,
          ),
        ),
      );
    }
    await waitFor(
      'the 1,000 healthy changes in the cloud DB',
      async () => Number((await cloud.query(`SELECT count(*) AS n FROM nms_recipient WHERE email LIKE $1`, [`ok%-${tag}@example.com`])).rows[0].n) === HEALTHY,
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const healthySeconds = (Date.now() - started) / 1000;

    // Every poison set aside with its reason; what came behind its key held.
    const cloudQuarantine = await waitFor('the cloud quarantine', async () => {
      const rows = await quarantine(cloud);
      return rows.filter((r) => r.state === 'quarantined').length >= 4 && rows.filter((r) => r.state === 'held').length >= 2 ? rows : undefined;
    });
    const localQuarantine = await waitFor('the local quarantine', async () => {
      const rows = await quarantine(local);
      return rows.filter((r) => r.state === 'quarantined').length >= 2 ? rows : undefined;
    });
    console.info(
      `quarantine: healthy changes in ${healthySeconds.toFixed(1)} s; cloud ${JSON.stringify(cloudQuarantine.map((r) => [r.consumer, r.state, r.reason_code]))}; local ${JSON.stringify(localQuarantine.map((r) => [r.consumer, r.state, r.reason_code]))}`,
    );
    const sync = cloudQuarantine.filter((r) => r.consumer === 'staging-sync');
    expect(sync.filter((r) => r.state === 'quarantined').map((r) => r.reason_code)).toEqual(['PGS-220000', 'PGS-220000', 'PGS-220000']);
    expect(sync.filter((r) => r.state === 'held')).toHaveLength(2); // the IngestExt and the later service version
    expect(cloudQuarantine.some((r) => r.consumer === 'cloud-executor-message-center' && r.reason_code === 'CAP-100201')).toBe(true);
    expect(localQuarantine.map((r) => r.consumer).sort()).toEqual(expect.arrayContaining(['local-store-message-center-status', 'local-store-workflow-state']));
    // Nothing of the poisoned keys reached the cloud DB.
    expect((await cloud.query('SELECT count(*)::int AS n FROM nms_recipient WHERE id = $1', [stagedId])).rows[0].n).toBe(0);
    // Seen where operators look: metrics, GetStagingStatus and mcPing.
    const metrics = await (await fetch(`${platform.procs.get('staging-sync')!.url}/metrics`)).text();
    expect(metrics).toMatch(/cap_quarantine_messages\{[^}]*consumer="staging-sync"[^}]*state="quarantined"[^}]*\} 3/);
    const status = await soap('nms:replicationStrategy', 'GetStagingStatus', '<schema/>');
    expect(status).toMatch(/<quarantine [^>]*consumer="staging-sync"/);
    expect((await (await fetch(`${platform.gatewayUrl}/nl/jsp/mcPing.jsp`)).text()).split('\n')[4]).toMatch(
      /^\d+ messages set aside in the quarantine \([1-9]\d* of the message center\)$/,
    );
    const listed = quarantineCli('list');
    expect(listed.status).toBe(0);
    expect(listed.stdout).toContain('staging-sync');

    // The fix, then the administrator's replays (and a discard: the unreadable message cannot be fixed).
    await cloud.query('ALTER TABLE nms_recipient DROP CONSTRAINT cap_test_poison');
    await cloud.query('ALTER TABLE nms_service DROP CONSTRAINT cap_test_poison');
    await local.query('ALTER TABLE nms_rt_event DROP CONSTRAINT cap_test_poison');
    await local.query('ALTER TABLE xtk_workflow DROP CONSTRAINT cap_test_poison');
    for (const r of cloudQuarantine.filter((q) => q.state === 'quarantined')) {
      const out = quarantineCli(r.reason_code === 'CAP-100201' ? 'discard' : 'replay', `cloud:${r.id}`);
      expect(out.status).toBe(0);
    }
    for (const r of localQuarantine.filter((q) => q.state === 'quarantined')) expect(quarantineCli('replay', `local:${r.id}`).status).toBe(0);

    // Delivered, in order (the held change after its head), and the quarantines empty.
    await waitFor(
      'the replayed changes in the cloud DB',
      async () => {
        const rcp = await cloud.query('SELECT last_name FROM nms_recipient WHERE id = $1', [stagedId]);
        const svc = await cloud.query('SELECT label FROM nms_service WHERE name = $1', [`svc${tag}`]);
        const sub = await cloud.query('SELECT first_name FROM nms_recipient WHERE email = $1', [`sub-${tag}@example.com`]);
        return rcp.rows[0]?.last_name === 'Fixed' && svc.rows[0]?.label === 'Later' && sub.rows[0]?.first_name === 'POISON';
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    await waitFor(
      'the replayed statuses in the local DB',
      async () => {
        // The event's @id: the returned id without the cell in its high byte (docs/deliveries.md).
        const ev = await local.query('SELECT status FROM nms_rt_event WHERE id = $1', [(BigInt(eventId) & 0xffffffffffffffn).toString()]);
        const wkf = await local.query('SELECT status FROM xtk_workflow WHERE internal_name = $1', [workflow]);
        return ev.rows[0]?.status !== 0 && /POISON/.test(wkf.rows[0]?.status ?? '');
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    await waitFor('empty quarantines', async () => (await quarantine(cloud)).length === 0 && (await quarantine(local)).length === 0, {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    // Once: one profile for the subscription, one subscription.
    expect((await cloud.query('SELECT count(*)::int AS n FROM nms_recipient WHERE email = $1', [`sub-${tag}@example.com`])).rows[0].n).toBe(1);
  });
});
