import { failure, uniqueId, waitFor } from '@cap/platform-testing';
import { useStagingClient } from './fixtures/staging.client';

/**
 * Empty and blank keys, the input that once stored an outbox change the relay could never publish and so held
 * every staged change of every user behind it: each is refused at the call with a Campaign fault, nothing reaches
 * the outbox, and the pipeline keeps delivering a fresh Ingest to the cloud database within 5 s.
 */
describe('the staging pipeline against empty and blank keys', () => {
  const s = useStagingClient({ apps: ['local-store', 'cloud-executor', 'staging-sync', 'api-gateway'] });

  const outboxRows = async () => Number((await s.local.query('SELECT count(*) AS n FROM cap_outbox')).rows[0].n);

  it.each([
    ['an empty _key', { _key: '', email: 'x@example.com' }],
    ['a blank _key', { _key: ' ', email: 'x@example.com' }],
    ['a _key of a comma', { _key: ',', email: 'x@example.com' }],
    ['an empty key value', { _key: '@email', email: '' }],
    ['a blank key value', { _key: '@email', email: '   ' }],
  ])('when Subscribe names the recipient by %s, then it is refused with XTK-170104 and nothing is staged', async (_label, recipient) => {
    const err = await failure(s.NLWS.nmsSubscription.Subscribe('newsletter', recipient, true));
    expect(err.errorCode).toBe('XTK-170104');
    // Nothing of the refused call was stored: no request, so no change for the relay.
    expect((await s.local.query('SELECT count(*) AS n FROM cap_subscription_request')).rows[0].n).toBe('0');
  });

  it('when IngestExt or Unsubscribe carry an empty key, then each is refused', async () => {
    expect((await failure(s.NLWS.xtkSession.ingestExt({ xtkschema: 'nms:recipientStg', _key: '', email: 'y@example.com' }))).errorCode).toBe('XTK-170104');
    expect((await failure(s.NLWS.xtkSession.ingestExt({ xtkschema: 'nms:recipientStg', _key: '@email', email: ' ' }))).errorCode).toBe('XTK-170104');
    expect((await failure(s.NLWS.nmsSubscription.Unsubscribe('newsletter', { _key: ',', email: 'y@example.com' }))).errorCode).toBe('XTK-170104');
  });

  it("when a service is written with name='' (a key field), then it is refused and no such service exists", async () => {
    expect((await failure(s.NLWS.xtkSession.write({ xtkschema: 'nms:service', name: '', label: 'empty' }))).errorCode).toBe('XTK-170104');
    expect((await failure(s.NLWS.xtkSession.write({ xtkschema: 'nms:service', name: '  ', label: 'blank', _operation: 'insert' }))).errorCode).toBe(
      'XTK-170104',
    );
    expect((await s.local.query("SELECT count(*) AS n FROM nms_service WHERE btrim(name) = ''")).rows[0].n).toBe('0');
  });

  it('when all of that has been tried, then a fresh Ingest still reaches the cloud database within 5 s and the outbox drains', async () => {
    const email = `${uniqueId('fresh')}@example.com`;
    const started = Date.now();
    await s.NLWS.xtkSession.ingest({ xtkschema: 'nms:recipientStg', email, firstName: 'Fresh' });
    await waitFor(
      'the fresh recipient in the cloud DB',
      async () => (await s.cloud.query('SELECT 1 FROM nms_recipient WHERE email = $1', [email])).rowCount === 1,
      { timeoutMs: 5_000, intervalMs: 50 },
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    await waitFor('an empty outbox', async () => (await outboxRows()) === 0, { timeoutMs: 5_000 });
  });
});
