import { failure, waitFor } from '@cap/platform-testing';
import { useStagingClient } from './fixtures/staging.client';

describe('the staging pipeline: local-store → outbox → Kafka → staging-sync → cloud DB', () => {
  const s = useStagingClient({ apps: ['local-store', 'cloud-executor', 'staging-sync', 'api-gateway'] });

  const cloudRecipient = async (email: string) =>
    (await s.cloud.query('SELECT id, email, first_name, last_name, black_list, cap_seq FROM nms_recipient WHERE email = $1', [email])).rows;

  it('when Ingest and IngestExt stage changes, then the cloud DB gets them in seconds, field by field, deletes included, and the staging rows are marked synced', async () => {
    const id: string = await s.NLWS.xtkSession.ingest({ xtkschema: 'nms:recipientStg', email: 'flow@example.com', firstName: 'Flo' });
    await s.NLWS.xtkSession.ingestExt({ xtkschema: 'nms:recipientStg', _key: '@email', email: 'flow@example.com', lastName: 'Wing' });
    await s.NLWS.xtkSession.ingest({ xtkschema: 'nms:recipientStg', _key: '@id', id: 'GONE0001', email: 'gone@example.com' });
    await s.NLWS.xtkSession.ingestExt({ xtkschema: 'nms:recipientStg', _key: '@id', _operation: 'delete', id: 'GONE0001' });

    const rows = await waitFor('the merged recipient in the cloud DB', async () => {
      const r = await cloudRecipient('flow@example.com');
      return r.length === 1 && r[0].last_name === 'Wing' ? r : undefined;
    });
    // The partial update kept the first name it did not carry; the id is the one Ingest returned.
    expect(rows[0]).toMatchObject({ id, first_name: 'Flo', last_name: 'Wing' });
    await waitFor(
      'the deleted recipient gone',
      async () =>
        (await cloudRecipient('gone@example.com')).length === 0 &&
        (await s.local.query("SELECT 1 FROM nms_recipient_stg WHERE id = 'GONE0001' AND cap_op = 'delete' AND cap_synced_at IS NOT NULL")).rowCount === 1,
    );
    await waitFor(
      'every staging row acknowledged',
      async () => (await s.local.query('SELECT count(*)::int AS n FROM nms_recipient_stg WHERE cap_synced_at IS NULL')).rows[0].n === 0,
    );
    expect((await s.local.query('SELECT count(*)::int AS n FROM cap_outbox')).rows[0].n).toBe(0);

    // The status, through the API and in mcPing's fourth line.
    const status = await s.NLWS.nmsReplicationStrategy.GetStagingStatus('nms:recipient');
    const sources = [status.source].flat();
    expect(sources).toEqual([expect.objectContaining({ source: 'nms:recipientStg', schema: 'nms:recipient', pending: '0', deadLettered: '0' })]);
    expect(Number(sources[0].lastSyncedSeq)).toBeGreaterThanOrEqual(4);
    expect(Number(sources[0].syncedTotal)).toBe(4);
    const mcPing = await (await fetch(`${s.platform.gatewayUrl}/nl/jsp/mcPing.jsp`)).text();
    expect(mcPing.split('\n')[3]).toMatch(/^0 staged rows pending sync/);
  });

  it('when Ingest calls are served, then operators see their latency per SOAP method at the gateway and per RPC method at both ends', async () => {
    for (let i = 0; i < 5; i++) await s.NLWS.xtkSession.ingest({ xtkschema: 'nms:recipientStg', email: `metered${i}@example.com` });
    const gateway = await (await fetch(`${s.platform.procs.get('api-gateway')!.url}/metrics`)).text();
    expect(gateway).toMatch(/^cap_soap_request_seconds_count\{service="api-gateway",method="xtk:session#Ingest",outcome="ok"\} ([5-9]|\d\d+)$/m);
    expect(gateway).toMatch(/^cap_rpc_client_seconds_count\{service="api-gateway",target="local-store",method="data.write",outcome="ok"\} ([5-9]|\d\d+)$/m);
    const localStore = await (await fetch(`${s.platform.procs.get('local-store')!.url}/metrics`)).text();
    expect(localStore).toMatch(/^cap_rpc_server_seconds_count\{service="local-store",method="data.write",outcome="ok"\} ([5-9]|\d\d+)$/m);
    expect(localStore).toMatch(/^cap_rpc_server_wait_seconds_count\{service="local-store",method="data.write",outcome="started"\} ([5-9]|\d\d+)$/m);
  });

  it('when StartReplicateStagingData is called, then it returns once the schema is in the cloud DB; a schema that is not staged is a clear fault', async () => {
    for (let i = 0; i < 50; i++) await s.NLWS.xtkSession.ingest({ xtkschema: 'nms:recipientStg', email: `flush${i}@example.com` });
    await s.NLWS.nmsReplicationStrategy.StartReplicateStagingData('nms:recipient');
    // No waiting here: the call itself waited for the acknowledgement.
    expect((await s.cloud.query("SELECT count(*)::int AS n FROM nms_recipient WHERE email LIKE 'flush%'")).rows[0].n).toBe(50);
    const bad = await failure(s.NLWS.nmsReplicationStrategy.StartReplicateStagingData('xtk:option'));
    expect(bad.errorCode).toBe('XTK-170106');
    expect(bad.faultString).toContain('xtk:option');
  });

  it('when a recipient subscribes and unsubscribes, then the cloud DB follows: profile created and updated, subscription added then removed, denylist on an empty service', async () => {
    await s.NLWS.nmsSubscription.Subscribe('newsletter', { _key: '@email', email: 'sub@example.com', firstName: 'Sue' }, true);
    await s.NLWS.nmsReplicationStrategy.StartReplicateStagingData('nms:subscription');
    const [recipient] = await cloudRecipient('sub@example.com');
    expect(recipient).toMatchObject({ first_name: 'Sue', black_list: false });
    const subs = () =>
      s.cloud
        .query('SELECT s.name FROM nms_subscription x JOIN nms_service s ON s.id = x.service_id WHERE x.recipient_id = $1', [recipient.id])
        .then((r) => r.rows.map((x) => x.name));
    expect(await subs()).toEqual(['newsletter']);

    // Subscribing again is not a second subscription; the given fields still update the profile.
    await s.NLWS.nmsSubscription.Subscribe('newsletter', { email: 'sub@example.com', lastName: 'Scribe' }, false);
    await s.NLWS.nmsSubscription.Unsubscribe('newsletter', { _key: '@email', email: 'sub@example.com' });
    await s.NLWS.nmsSubscription.Unsubscribe('', { _key: '@email', email: 'sub@example.com' });
    // Unknown recipient: not an error (Campaign's rule); create=false does not create it.
    await s.NLWS.nmsSubscription.Unsubscribe('newsletter', { _key: '@email', email: 'nobody@example.com' });
    await s.NLWS.nmsSubscription.Subscribe('newsletter', { _key: '@email', email: 'nocreate@example.com' }, false);
    await s.NLWS.nmsReplicationStrategy.StartReplicateStagingData('nms:subscription');
    expect(await subs()).toEqual([]);
    expect((await cloudRecipient('sub@example.com'))[0]).toMatchObject({ last_name: 'Scribe', black_list: true });
    expect(await cloudRecipient('nobody@example.com')).toEqual([]);
    expect(await cloudRecipient('nocreate@example.com')).toEqual([]);
  });

  it('when a Subscribe call is bad, then the fault says why and nothing is staged', async () => {
    const before = (await s.local.query('SELECT count(*)::int AS n FROM cap_subscription_request')).rows[0].n;
    expect((await failure(s.NLWS.nmsSubscription.Subscribe('no-such-service', { email: 'x@example.com' }, true))).faultString).toContain("'no-such-service'");
    expect((await failure(s.NLWS.nmsSubscription.Subscribe('newsletter', { email: 'x@example.com', shoeSize: '44' }, true))).errorCode).toBe('XTK-170102');
    expect((await failure(s.NLWS.nmsSubscription.Subscribe('newsletter', { firstName: 'NoKey' }, true))).errorCode).toBe('XTK-170104');
    expect((await s.local.query('SELECT count(*)::int AS n FROM cap_subscription_request')).rows[0].n).toBe(before);
  });

  it('when a replicated schema is written locally, then its cloud copy follows (insert, update, delete)', async () => {
    await s.NLWS.xtkSession.write({ xtkschema: 'nms:service', name: 'promo', label: 'Promotions' });
    await waitFor(
      'nms:service promo in the cloud',
      async () => (await s.cloud.query("SELECT label FROM nms_service WHERE name = 'promo'")).rows[0]?.label === 'Promotions',
    );
    await s.NLWS.xtkSession.write({ xtkschema: 'nms:service', _key: '@name', name: 'promo', label: 'Promos' });
    await waitFor(
      'the label updated in the cloud',
      async () => (await s.cloud.query("SELECT label FROM nms_service WHERE name = 'promo'")).rows[0]?.label === 'Promos',
    );
    const localId = (await s.local.query("SELECT id::text FROM nms_service WHERE name = 'promo'")).rows[0].id;
    expect((await s.cloud.query("SELECT id::text FROM nms_service WHERE name = 'promo'")).rows[0].id).toBe(localId);
    await s.NLWS.xtkSession.deleteCollection('nms:service', { condition: { expr: "@name = 'promo'" } }, false);
    await waitFor('promo gone from the cloud', async () => (await s.cloud.query("SELECT 1 FROM nms_service WHERE name = 'promo'")).rowCount === 0);
  });

  it('when a v7 Write reconciles a cloud recipient by @email, then the first write creates it with a new id and the second updates it', async () => {
    await s.NLWS.xtkSession.write({ xtkschema: 'nms:recipient', _key: '@email', email: 'v7@example.com', firstName: 'Vee' });
    await s.NLWS.xtkSession.write({ xtkschema: 'nms:recipient', _key: '@email', email: 'v7@example.com', firstName: 'Seven' });
    const rows = await cloudRecipient('v7@example.com');
    expect(rows).toEqual([expect.objectContaining({ first_name: 'Seven', id: expect.stringMatching(/^[0-9a-f-]{36}$/) })]);
  });

  it('when the cloud DB rejects one row of a batch, then that row is dead-lettered with its reason, the others land, and the status counts it', async () => {
    await s.cloud.query("ALTER TABLE nms_recipient ADD CONSTRAINT test_no_poison CHECK (first_name IS DISTINCT FROM 'poison')");
    try {
      await s.NLWS.xtkSession.ingest({ xtkschema: 'nms:recipientStg', email: 'before@example.com' });
      await s.NLWS.xtkSession.ingest({ xtkschema: 'nms:recipientStg', email: 'poison@example.com', firstName: 'poison' });
      await s.NLWS.xtkSession.ingest({ xtkschema: 'nms:recipientStg', email: 'after@example.com' });
      await s.NLWS.nmsReplicationStrategy.StartReplicateStagingData('nms:recipient');
      expect(
        (
          await s.cloud.query("SELECT email FROM nms_recipient WHERE email IN ('before@example.com', 'poison@example.com', 'after@example.com') ORDER BY email")
        ).rows.map((r) => r.email),
      ).toEqual(['after@example.com', 'before@example.com']);
      const status = await waitFor('the dead letter counted', async () => {
        const r = await s.local.query("SELECT dead_lettered::int FROM cap_sync_status WHERE source = 'nms:recipientStg'");
        return r.rows[0]?.dead_lettered === 1 ? r.rows[0] : undefined;
      });
      expect(status.dead_lettered).toBe(1);
      const metrics = await (await fetch(`${s.platform.procs.get('local-store')!.url}/metrics`)).text();
      expect(metrics).toMatch(/cap_staging_dead_lettered_rows\{source="nms:recipientStg",schema="nms:recipient"[^}]*\} 1\n/);
      expect(metrics).toMatch(/cap_staging_pending_rows\{source="nms:recipientStg",schema="nms:recipient"[^}]*\} 0\n/);
    } finally {
      await s.cloud.query('ALTER TABLE nms_recipient DROP CONSTRAINT test_no_poison');
    }
  });
});
