import { failure, sdkLogon, startSmtpSink, uniqueId, waitFor, type SmtpSink } from '@cap/platform-testing';
// Adobe's own client, unmodified, logs on in the fixture: the calls are the ones a Campaign developer makes.
import { startCampaignClient, waitForDeliveryState, writeDeliveryTemplate, type CampaignClient, type Nlws } from './fixtures/campaign.client';

const BATCH = 3;
const FIELDS = ['@id', '@state', '[properties/@success]', '[properties/@toDeliver]'];

/**
 * Delivery commands (nms:delivery#ExecCommand, Play, Pause, Stop) through the unmodified SDK, against a slow
 * SMTP server so that a delivery is still sending when the command lands: a paused delivery sends nothing more
 * until it is played again, then finishes with every message sent once; a stopped one never sends again and
 * refuses to resume; bad ids, bad commands, finished deliveries and operators without the delivery right get
 * Campaign faults.
 */
describe('delivery commands through the unmodified @adobe/acc-js-sdk', () => {
  let campaign: CampaignClient;
  let smtp: SmtpSink;
  let NLWS: Nlws;
  let template: string;

  beforeAll(async () => {
    smtp = await startSmtpSink({ dataDelayMs: 150 });
    campaign = await startCampaignClient({
      envFor: {
        'cloud-executor': {
          SMTP_URL: smtp.url,
          SMTP_POOL_MAX: '1',
          SMTP_TIMEOUT_MS: '5000',
          DELIVERY_BATCH_SIZE: String(BATCH),
          DELIVERY_TICK_MS: '200',
          DELIVERY_PROGRESS_MS: '100',
        },
      },
    });
    ({ NLWS } = campaign);
    template = await writeDeliveryTemplate(campaign, {
      label: 'Slow template',
      routing: 'smtp',
      mailParameters: { subject: 'Hello <%= recipient.firstName %>', senderAddress: 'news@example.com' },
      $content: '<p>Hello <%= recipient.firstName %></p>',
    });
  });

  afterAll(async () => {
    await campaign?.stop();
    await smtp?.close();
  });

  /** `n` recipients at @<tag>.test in the cloud DB. */
  const seed = async (tag: string, n: number) => {
    const ids = Array.from({ length: n }, () => uniqueId('rcp'));
    await campaign.cloud.query(
      `INSERT INTO nms_recipient (id, email, first_name, created, last_modified)
       SELECT u.id, 'r' || u.n || '@${tag}.test', 'N' || u.n, now(), now() FROM unnest($1::text[], $2::int[]) AS u(id, n)`,
      [ids, ids.map((_, i) => i)],
    );
  };
  /** Messages the SMTP server accepted for this tag's recipients. */
  const receivedFor = (tag: string) => smtp.received.flatMap((m) => m.to).filter((to) => to.endsWith(`@${tag}.test`));
  const logsByStatus = async (deliveryId: string) =>
    Object.fromEntries(
      (
        await campaign.cloud.query<{ status: number; n: number }>(
          'SELECT status, count(*)::int AS n FROM nms_broad_log_rcp WHERE delivery_id = $1 GROUP BY status',
          [deliveryId],
        )
      ).rows.map((r) => [r.status, r.n]),
    );
  /** Submits a delivery to `n` fresh recipients and waits until the server has accepted a first message. */
  const startSlowDelivery = async (n: number) => {
    const tag = uniqueId('cmd').replace(/_/g, '').toLowerCase();
    await seed(tag, n);
    const label = `Commands ${tag}`;
    await NLWS.nmsDelivery.SubmitDelivery(template, { label, targets: { where: { condition: { expr: `@email LIKE '%@${tag}.test'` } } } });
    const row = await waitForDeliveryState(campaign, label, 55, FIELDS);
    await waitFor(`a first message of ${tag}`, async () => receivedFor(tag).length >= 1, { timeoutMs: 20_000 });
    return { tag, label, deliveryId: String(row.id) };
  };
  /** Waits until no more messages of this tag arrive for `quietMs`; returns how many arrived. */
  const settled = async (tag: string, quietMs = 1_500) => {
    let last = -1;
    return waitFor(
      `sending of ${tag} to stop`,
      async () => {
        const now = receivedFor(tag).length;
        if (now === last) return now;
        last = now;
        return undefined;
      },
      { timeoutMs: 20_000, intervalMs: quietMs },
    );
  };

  it('when a sending delivery is paused, then it sends nothing more until Play, and then it finishes with every message sent once', async () => {
    const { tag, label, deliveryId } = await startSlowDelivery(24);
    expect(await NLWS.nmsDelivery.ExecCommand(deliveryId, 'pause')).toBe(72);
    await waitForDeliveryState(campaign, label, 72, FIELDS);

    // At most the batch in hand when the command landed is sent; then nothing, however long we wait.
    const atPause = await settled(tag);
    expect(atPause).toBeLessThan(24);
    await new Promise((r) => setTimeout(r, 2_000)); // the runner polls every 200 ms: ten rounds with nothing sent
    expect(receivedFor(tag)).toHaveLength(atPause);
    const logs = await logsByStatus(deliveryId);
    expect(logs[0]).toBe(24 - atPause);
    expect(logs[1]).toBe(atPause);

    // Pausing again changes nothing and is not an error.
    expect(await NLWS.nmsDelivery.ExecCommand(deliveryId, 'PAUSE')).toBe(72);

    await NLWS.nmsDelivery.Play(deliveryId);
    const done = await waitForDeliveryState(campaign, label, 95, FIELDS, 60_000);
    expect(done.properties).toMatchObject({ success: '24', toDeliver: '24' });
    const to = receivedFor(tag);
    expect(to).toHaveLength(24);
    expect(new Set(to).size).toBe(24);
    expect(await logsByStatus(deliveryId)).toEqual({ 1: 24 });

    // A finished delivery takes no command.
    const finished = await failure(NLWS.nmsDelivery.Pause(deliveryId));
    expect(finished.errorCode).toBe('DLV-490011');
    expect(finished.faultString).toContain('it is finished');
  });

  it('when a sending delivery is stopped, then it never sends again and refuses Play and Pause', async () => {
    const { tag, label, deliveryId } = await startSlowDelivery(24);
    await NLWS.nmsDelivery.Stop(deliveryId);
    await waitForDeliveryState(campaign, label, 85, FIELDS);
    const atStop = await settled(tag);
    expect(atStop).toBeLessThan(24);

    const play = await failure(NLWS.nmsDelivery.Play(deliveryId));
    expect(play.errorCode).toBe('DLV-490011');
    expect(play.faultString).toContain('a stopped delivery never resumes');
    expect((await failure(NLWS.nmsDelivery.ExecCommand(deliveryId, 'pause'))).errorCode).toBe('DLV-490011');
    expect(await NLWS.nmsDelivery.ExecCommand(deliveryId, 'stop')).toBe(85);

    await new Promise((r) => setTimeout(r, 2_000));
    expect(receivedFor(tag)).toHaveLength(atStop);
    expect((await logsByStatus(deliveryId))[0]).toBe(24 - atStop);
    const job = await campaign.cloud.query('SELECT phase, state FROM cap_delivery_job WHERE delivery_id = $1', [deliveryId]);
    expect(job.rows[0]).toEqual({ phase: 'stopped', state: 85 });
  });

  it('when a delivery is paused then stopped, then it stays stopped and sends nothing more', async () => {
    const { tag, label, deliveryId } = await startSlowDelivery(15);
    expect(await NLWS.nmsDelivery.ExecCommand(deliveryId, 'pause')).toBe(72);
    const atPause = await settled(tag);
    expect(await NLWS.nmsDelivery.ExecCommand(deliveryId, 'stop')).toBe(85);
    await waitForDeliveryState(campaign, label, 85, FIELDS);
    expect((await failure(NLWS.nmsDelivery.ExecCommand(deliveryId, 'play'))).errorCode).toBe('DLV-490011');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(receivedFor(tag)).toHaveLength(atPause);
  });

  it('when CreateFromModel makes a delivery from a template and it is written, then Play starts it and it sends to its target', async () => {
    const tag = uniqueId('cfm').replace(/_/g, '').toLowerCase();
    await seed(tag, 4);
    const label = `From model ${tag}`;
    const doc = await NLWS.nmsDelivery.CreateFromModel(template, { label, targets: { where: { condition: { expr: `@email LIKE '%@${tag}.test'` } } } });
    expect(doc).toMatchObject({ xtkschema: 'nms:delivery', label, isModel: 'false', deliveryCode: template, state: '0', routing: 'smtp' });
    expect(doc.internalName).toMatch(/^DM\d+$/);
    expect(JSON.stringify(doc)).toContain('Hello <%= recipient.firstName %>');
    // Nothing was recorded: the document is the caller's to write.
    expect((await campaign.cloud.query('SELECT 1 FROM cap_delivery_job WHERE internal_name = $1', [doc.internalName])).rowCount).toBe(0);

    await NLWS.xtkSession.write(doc);
    const written = await waitForDeliveryState(campaign, label, 0, FIELDS);
    const deliveryId = String(written.id);
    await waitFor(
      `${label} in the cloud copy`,
      async () => (await campaign.cloud.query('SELECT 1 FROM nms_delivery WHERE id = $1', [deliveryId])).rowCount === 1,
      {
        timeoutMs: 15_000,
      },
    );
    // Pausing a delivery that was never started: there is no delivery action to pause.
    expect((await failure(NLWS.nmsDelivery.Pause(deliveryId))).errorCode).toBe('DLV-490010');

    expect(await NLWS.nmsDelivery.ExecCommand(deliveryId, 'play')).toBe(45);
    const done = await waitForDeliveryState(campaign, label, 95, FIELDS, 30_000);
    expect(done.properties).toMatchObject({ success: '4', toDeliver: '4' });
    expect(new Set(receivedFor(tag)).size).toBe(4);
    expect(receivedFor(tag)).toHaveLength(4);
    // Play again on the finished delivery is refused; the record kept its id and name.
    expect((await failure(NLWS.nmsDelivery.Play(deliveryId))).errorCode).toBe('DLV-490011');
    const job = await campaign.cloud.query('SELECT internal_name, template_name FROM cap_delivery_job WHERE delivery_id = $1', [deliveryId]);
    expect(job.rows[0]).toEqual({ internal_name: doc.internalName, template_name: template });

    // A template that does not exist, or a fragment that cannot be merged.
    expect((await failure(NLWS.nmsDelivery.CreateFromModel('NO_SUCH_TEMPLATE', {}))).errorCode).toBe('DLV-490001');
    expect((await failure(NLWS.nmsDelivery.CreateFromModel(template, { shoeSize: '42' }))).errorCode).toBe('DLV-490002');
    expect((await failure(NLWS.nmsDelivery.CreateFromModel(template, { $content: '<%= recipient.nope %>' }))).errorCode).toBe('DLV-490004');
  });

  it('when a message template is deployed, then DeployTriggerMessageSingle says whether it is live for the message center, and DeployTriggerMessages accepts a filter', async () => {
    const eventType = uniqueId('evt');
    const messageTemplate = await writeDeliveryTemplate(campaign, { label: 'Order confirmation', eventType, $content: '<p>Thanks</p>' });
    const idOf = async (internalName: string) =>
      String((await campaign.cloud.query('SELECT id::text AS id FROM nms_delivery WHERE internal_name = $1', [internalName])).rows[0].id);
    expect(await NLWS.nmsDelivery.DeployTriggerMessageSingle(await idOf(messageTemplate), false)).toBe(true);
    // A delivery template that is not a message template, and an id that names nothing, are not live.
    expect(await NLWS.nmsDelivery.DeployTriggerMessageSingle(await idOf(template), false)).toBe(false);
    expect(await NLWS.nmsDelivery.DeployTriggerMessageSingle('999', true)).toBe(false);
    await NLWS.nmsDelivery.DeployTriggerMessages({ condition: { expr: `@eventType = '${eventType}'` } }, false);
  });

  it('when the delivery id or the command is wrong, or the operator lacks the delivery right, then a Campaign fault answers and nothing changes', async () => {
    expect((await failure(NLWS.nmsDelivery.Pause('999'))).errorCode).toBe('DLV-490010');
    expect((await failure(NLWS.nmsDelivery.ExecCommand('not-a-number', 'pause'))).errorCode).toBe('DLV-490010');
    expect((await failure(NLWS.nmsDelivery.ExecCommand('99999999999999999999', 'pause'))).errorCode).toBe('DLV-490010');
    expect((await failure(NLWS.nmsDelivery.ExecCommand('1125899906842625', 'delete'))).errorCode).toBe('SOP-330008');
    expect((await failure(NLWS.nmsDelivery.ExecCommand('', 'pause'))).errorCode).toBe('SOP-330008');
    expect((await failure(NLWS.nmsDelivery.Stop('9'.repeat(5_000)))).errorCode).toBe('SOP-330008');

    // A template is not a delivery action.
    const templateId = (await campaign.cloud.query('SELECT id::text AS id FROM nms_delivery WHERE internal_name = $1', [template])).rows[0].id;
    expect((await failure(NLWS.nmsDelivery.Stop(templateId))).errorCode).toBe('DLV-490010');

    // The message-center operator has no delivery right: it can neither pause nor stop a delivery.
    const { tag, deliveryId } = await startSlowDelivery(9);
    const mc = await sdkLogon(campaign.platform.gatewayUrl, 'mc', 'mc');
    try {
      expect((await failure(mc.NLWS.nmsDelivery.CreateFromModel(template, {}))).errorCode).toBe('XSV-350013');
      expect((await failure(mc.NLWS.nmsDelivery.DeployTriggerMessages({}, false))).errorCode).toBe('XSV-350013');
      expect((await failure(mc.NLWS.nmsDelivery.Stop(deliveryId))).errorCode).toBe('XSV-350013');
      expect((await failure(mc.NLWS.nmsDelivery.ExecCommand(deliveryId, 'pause'))).errorCode).toBe('XSV-350013');
    } finally {
      await mc.logoff();
    }
    const job = await campaign.cloud.query('SELECT phase FROM cap_delivery_job WHERE delivery_id = $1', [deliveryId]);
    expect(job.rows[0].phase).toMatch(/^(targeting|sending|finished)$/);
    await waitFor(`delivery of ${tag} to finish`, async () => receivedFor(tag).length === 9, { timeoutMs: 30_000 });
  });
});
