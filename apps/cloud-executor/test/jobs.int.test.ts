import { failure, sdkLogon, startSmtpSink, uniqueId, waitFor, type SdkClient, type SmtpSink } from '@cap/platform-testing';
// Adobe's own client, unmodified: client.jobInterface(...) as its docs (docs/xtkJob.html of the SDK) show it.
import { startCampaignClient, writeDeliveryTemplate, type CampaignClient } from './fixtures/campaign.client';

/**
 * Background jobs through the unmodified SDK: a delivery being edited, selected with queryDef + SelectAll, started
 * with `client.jobInterface({ xtkschema: 'nms:delivery', method: 'Start', object }).submit()`, followed with
 * getStatus (status, logs, progress) to its result; paused and cancelled through the job; another operator's
 * job, unknown ids, unsupported methods and objects without an id refused.
 */
describe('xtk:jobInterface and xtk:job through the unmodified @adobe/acc-js-sdk', () => {
  let campaign: CampaignClient;
  let smtp: SmtpSink;
  let client: SdkClient;
  let template: string;

  beforeAll(async () => {
    smtp = await startSmtpSink({ dataDelayMs: 150 });
    campaign = await startCampaignClient({
      envFor: { 'cloud-executor': { SMTP_URL: smtp.url, SMTP_POOL_MAX: '1', DELIVERY_BATCH_SIZE: '3', DELIVERY_TICK_MS: '200', DELIVERY_PROGRESS_MS: '100' } },
    });
    client = await sdkLogon(campaign.platform.gatewayUrl, 'admin', 'admin');
    template = await writeDeliveryTemplate(campaign, {
      label: 'Job template',
      routing: 'smtp',
      mailParameters: { subject: 'Hi <%= recipient.firstName %>', senderAddress: 'news@example.com' },
      $content: '<p>Hi <%= recipient.firstName %></p>',
    });
  });

  afterAll(async () => {
    await client?.logoff();
    await campaign?.stop();
    await smtp?.close();
  });

  const receivedFor = (tag: string) => smtp.received.flatMap((m) => m.to).filter((to) => to.endsWith(`@${tag}.test`));

  /** A delivery being edited (CreateFromModel, then Write) to `n` new recipients, selected whole as the SDK's docs do. */
  const editedDelivery = async (n: number) => {
    const tag = uniqueId('job').replace(/_/g, '').toLowerCase();
    const ids = Array.from({ length: n }, () => uniqueId('rcp'));
    await campaign.cloud.query(
      `INSERT INTO nms_recipient (id, email, first_name, created, last_modified)
       SELECT u.id, 'r' || u.n || '@${tag}.test', 'N' || u.n, now(), now() FROM unnest($1::text[], $2::int[]) AS u(id, n)`,
      [ids, ids.map((_, i) => i)],
    );
    const doc = await client.NLWS.nmsDelivery.CreateFromModel(template, { targets: { where: { condition: { expr: `@email LIKE '%@${tag}.test'` } } } });
    await client.NLWS.xtkSession.write(doc);
    const query = client.NLWS.xtkQueryDef.create({
      schema: 'nms:delivery',
      operation: 'get',
      select: { node: [{ expr: '@id' }] },
      where: { condition: [{ expr: `@internalName='${doc.internalName}'` }] },
    });
    await query.selectAll();
    const delivery = await query.executeQuery();
    await waitFor(
      `${doc.internalName} in the cloud copy`,
      async () => (await campaign.cloud.query('SELECT 1 FROM nms_delivery WHERE id = $1', [delivery.id])).rowCount === 1,
      {
        timeoutMs: 15_000,
      },
    );
    return { tag, delivery };
  };

  it('when a delivery is started as a job, then getStatus follows it with logs and progress to the finished status, and getResult answers', async () => {
    const { tag, delivery } = await editedDelivery(4);
    const job = client.jobInterface({ xtkschema: 'nms:delivery', method: 'Start', object: delivery });
    const jobId = await job.submit();
    expect(typeof jobId).toBe('string');
    expect(jobId.length).toBeGreaterThan(10);

    const status = await waitFor(
      'the job to finish',
      async () => {
        const s = await job.getStatus();
        return s.status === 5 ? s : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    expect(status.properties.progress).toEqual({ current: 4, max: 4 });
    expect(job.getProgress()).toBe(1);
    // Every call returned the logs since the previous one: together they tell the whole story, in order, once each.
    const messages = job.status.logs.map((l: { message: string }) => l.message);
    expect(messages[0]).toBe(`Start of delivery ${delivery.id} submitted.`);
    expect(messages.at(-1)).toMatch(/finished: 4 sent, 0 failed\.$/);
    expect(new Set(job.status.logs.map((l: { id: number }) => l.id)).size).toBe(messages.length);
    expect(job.iRc).toBe(0);
    expect(await job.getResult()).toBe('');
    expect(receivedFor(tag)).toHaveLength(4);

    // A job read again from its id alone (another client of the same operator) starts from the first log.
    const again = client.jobInterface({ jobId });
    expect((await again.getStatus(0, 1)).logs).toHaveLength(1);
  });

  it('when a running job is paused and then cancelled, then its delivery pauses and stops, and the job has no result', async () => {
    const { tag, delivery } = await editedDelivery(20);
    const job = client.jobInterface({ xtkschema: 'nms:delivery', method: 'PrepareAndStart', object: delivery });
    await job.submit();
    await waitFor('a first message', async () => receivedFor(tag).length >= 1, { timeoutMs: 20_000 });
    await job.pause();
    expect((await job.getStatus()).status).toBe(8);
    await job.cancel();
    expect((await job.getStatus()).status).toBe(4);
    expect(job.status.logs.at(-1).message).toMatch(/stopped after \d+ of 20 messages\.$/);
    const noResult = await failure(job.getResult());
    expect(noResult.errorCode).toBe('XTK-170352');
    const row = await campaign.cloud.query('SELECT phase FROM cap_delivery_job WHERE delivery_id = $1', [delivery.id]);
    expect(row.rows[0].phase).toBe('stopped');
  });

  it('when cloud-executor is killed while a job is paused, then the job keeps its status and logs, and goes on to the end once its delivery is played', async () => {
    const { tag, delivery } = await editedDelivery(12);
    const job = client.jobInterface({ xtkschema: 'nms:delivery', method: 'Start', object: delivery });
    const jobId = await job.submit();
    await waitFor('a first message', async () => receivedFor(tag).length >= 1, { timeoutMs: 20_000 });
    await job.pause();
    const before = await job.getStatus();
    expect(before.status).toBe(8);
    // The batch in hand when the pause landed is committed before the kill (a batch cut by a kill is sent again).
    await waitFor(
      'the batch in hand to be committed',
      async () => {
        const { processed } = (await campaign.cloud.query('SELECT processed FROM cap_delivery_job WHERE delivery_id = $1', [delivery.id])).rows[0];
        return processed === receivedFor(tag).length && processed > 0 ? true : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );

    const executor = campaign.platform.procs.get('cloud-executor')!;
    executor.signal('SIGKILL');
    await executor.exited;
    await campaign.platform.replace('cloud-executor');

    const reread = client.jobInterface({ jobId });
    const after = await reread.getStatus(0, 100);
    expect(after.status).toBe(8);
    expect(after.logs.map((l: { id: number; message: string }) => [l.id, l.message])).toEqual(
      job.status.logs.map((l: { id: number; message: string }) => [l.id, l.message]),
    );
    await client.NLWS.nmsDelivery.Play(delivery.id);
    await waitFor('the job to finish', async () => ((await reread.getStatus()).status === 5 ? true : undefined), { timeoutMs: 60_000, intervalMs: 300 });
    expect(reread.status.properties.progress).toEqual({ current: 12, max: 12 });
    expect(new Set(receivedFor(tag)).size).toBe(12);
    expect(receivedFor(tag)).toHaveLength(12);
  });

  /** The local nms:delivery @state and messages to deliver, as the SDK reads them. */
  const localState = async (id: string) => {
    const row = await client.NLWS.xtkQueryDef
      .create({
        schema: 'nms:delivery',
        operation: 'get',
        select: { node: [{ expr: '@state' }, { expr: '[properties/@toDeliver]' }] },
        where: { condition: [{ expr: `@id=${id}` }] },
      })
      .executeQuery();
    return { state: Number(row.state), toDeliver: Number(row.properties?.toDeliver ?? 0) };
  };
  const pendingLogs = async (id: string) =>
    (await campaign.cloud.query<{ n: number }>('SELECT count(*)::int AS n FROM nms_broad_log_rcp WHERE delivery_id = $1 AND status = 0', [id])).rows[0]!.n;

  it('when a delivery is prepared as a job, then it is analysed and counted without sending, and a later Start sends each message once', async () => {
    const { tag, delivery } = await editedDelivery(3);
    const prepare = client.jobInterface({ xtkschema: 'nms:delivery', method: 'Prepare', object: delivery });
    await prepare.submit();
    const status = await waitFor(
      'the Prepare job to finish',
      async () => {
        const s = await prepare.getStatus();
        return s.status === 5 ? s : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    expect(status.properties.progress).toEqual({ current: 3, max: 3 });
    const messages = prepare.status.logs.map((l: { message: string }) => l.message);
    expect(messages[0]).toBe(`Prepare of delivery ${delivery.id} submitted.`);
    expect(messages.at(-1)).toMatch(/prepared: 3 messages to deliver \(3 targeted, 0 excluded\); nothing sent, waiting for Start\.$/);
    expect(await prepare.getResult()).toBe('');
    // The delivery is analysed (25) with its count, in the local DB the SDK reads, and its logs wait.
    await waitFor('nms:delivery @state 25', async () => ((await localState(delivery.id)).state === 25 ? true : undefined), { timeoutMs: 15_000 });
    expect(await localState(delivery.id)).toEqual({ state: 25, toDeliver: 3 });
    expect(await pendingLogs(delivery.id)).toBe(3);
    // Runner rounds (200 ms ticks) pass and nothing is sent: the job stays prepared.
    const job = async () => (await campaign.cloud.query('SELECT phase, processed FROM cap_delivery_job WHERE delivery_id = $1', [delivery.id])).rows[0];
    const roundsBefore = await campaign.cloud.query('SELECT now() AS t');
    await waitFor(
      'ten runner ticks',
      async () => (await campaign.cloud.query("SELECT now() - $1::timestamptz > interval '2 seconds' AS ok", [roundsBefore.rows[0].t])).rows[0].ok || undefined,
      {
        timeoutMs: 10_000,
        intervalMs: 250,
      },
    );
    expect(await job()).toEqual({ phase: 'prepared', processed: 0 });
    expect(receivedFor(tag)).toHaveLength(0);
    // Preparing it again changes nothing; pausing a prepared delivery is refused.
    await client.jobInterface({ xtkschema: 'nms:delivery', method: 'Prepare', object: delivery }).submit();
    expect((await failure(prepare.pause())).errorCode).toBe('DLV-490011');
    expect(await job()).toEqual({ phase: 'prepared', processed: 0 });

    const start = client.jobInterface({ xtkschema: 'nms:delivery', method: 'Start', object: delivery });
    await start.submit();
    await waitFor('the Start job to finish', async () => ((await start.getStatus()).status === 5 ? true : undefined), { timeoutMs: 30_000, intervalMs: 300 });
    expect(start.status.properties.progress).toEqual({ current: 3, max: 3 });
    expect(receivedFor(tag).sort()).toEqual([`r0@${tag}.test`, `r1@${tag}.test`, `r2@${tag}.test`]);
    // The Prepare job is still finished, with nothing logged after its analysis.
    const after = await prepare.getStatus();
    expect(after.status).toBe(5);
    // (the SDK's status accumulates the logs: nothing was added since)
    expect(after.logs.map((l: { message: string }) => l.message)).toEqual(messages);
    // Once started, the delivery cannot be prepared again.
    expect((await failure(client.jobInterface({ xtkschema: 'nms:delivery', method: 'Prepare', object: delivery }).submit())).errorCode).toBe('DLV-490011');
  });

  it('when cloud-executor is killed in the middle of a Prepare’s analysis, then the analysis runs again once it is back, and Start sends each message once', async () => {
    const { tag, delivery } = await editedDelivery(5);
    // Holding an EXCLUSIVE lock on the logs table makes the analysis wait inside its transaction (its INSERT of the
    // logs), so the kill lands in the middle of it; the dead connection's transaction never commits.
    const blocker = await campaign.cloud.connect();
    let jobId: string;
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE nms_broad_log_rcp IN EXCLUSIVE MODE');
      jobId = await client.jobInterface({ xtkschema: 'nms:delivery', method: 'Prepare', object: delivery }).submit();
      await waitFor(
        'the analysis to wait for the lock',
        async () =>
          (
            await campaign.cloud.query(
              "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO nms_broad_log_rcp%' AND datname = current_database()",
            )
          ).rowCount === 1 || undefined,
        { timeoutMs: 15_000, intervalMs: 100 },
      );
      const executor = campaign.platform.procs.get('cloud-executor')!;
      executor.signal('SIGKILL');
      await executor.exited;
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    expect((await campaign.cloud.query('SELECT phase FROM cap_delivery_job WHERE delivery_id = $1', [delivery.id])).rows[0].phase).toBe('targeting');
    await campaign.platform.replace('cloud-executor');

    const reread = client.jobInterface({ jobId });
    await waitFor('the Prepare job to finish', async () => ((await reread.getStatus()).status === 5 ? true : undefined), {
      timeoutMs: 60_000,
      intervalMs: 300,
    });
    expect(reread.status.properties.progress).toEqual({ current: 5, max: 5 });
    expect(await pendingLogs(delivery.id)).toBe(5);
    expect(receivedFor(tag)).toHaveLength(0);
    await client.NLWS.nmsDelivery.Play(delivery.id);
    await waitFor('5 messages', async () => (receivedFor(tag).length >= 5 ? true : undefined), { timeoutMs: 30_000 });
    await waitFor('the delivery to finish', async () => ((await localState(delivery.id)).state === 95 ? true : undefined), { timeoutMs: 15_000 });
    expect(new Set(receivedFor(tag)).size).toBe(5);
    expect(receivedFor(tag)).toHaveLength(5);
  });

  it('when Prepare names no delivery action, a template, or a delivery already started, or the operator lacks the right, then a Campaign fault answers and nothing is written', async () => {
    const jobsBefore = (await campaign.cloud.query<{ n: number }>('SELECT count(*)::int AS n FROM cap_job')).rows[0]!.n;
    const prep = (object: Record<string, unknown>, c: SdkClient = client) =>
      failure(c.jobInterface({ xtkschema: 'nms:delivery', method: 'Prepare', object }).submit());
    expect((await prep({ id: '999' })).errorCode).toBe('DLV-490010');
    expect((await prep({ id: 'not-a-number' })).errorCode).toBe('DLV-490010');
    expect((await prep({ id: '99999999999999999999' })).errorCode).toBe('DLV-490010');
    const templateId = await waitFor(
      'the template in the cloud copy',
      async () => (await campaign.cloud.query<{ id: string }>('SELECT id::text AS id FROM nms_delivery WHERE internal_name = $1', [template])).rows[0]?.id,
      { timeoutMs: 15_000 },
    );
    expect((await prep({ id: templateId })).errorCode).toBe('DLV-490010');
    const mc = await sdkLogon(campaign.platform.gatewayUrl, 'mc', 'mc');
    const { delivery } = await editedDelivery(1);
    try {
      expect((await prep(delivery, mc)).errorCode).toBe('XSV-350013');
    } finally {
      await mc.logoff();
    }
    expect((await campaign.cloud.query('SELECT 1 FROM cap_delivery_job WHERE delivery_id = $1', [delivery.id])).rowCount).toBe(0);
    expect((await campaign.cloud.query<{ n: number }>('SELECT count(*)::int AS n FROM cap_job')).rows[0]!.n).toBe(jobsBefore);
    // Started, then prepared: refused, and the delivery goes on.
    await client.NLWS.nmsDelivery.Play(delivery.id);
    expect((await prep(delivery)).errorCode).toBe('DLV-490011');
  });

  it('when nms:delivery#GetFilesToDownload is called as the SDK documents it, then two documents come back as an array, and an unknown delivery is refused', async () => {
    const { delivery } = await editedDelivery(1);
    const result = await client.NLWS.nmsDelivery.getFilesToDownload(delivery.id);
    expect(Array.isArray(result)).toBe(true);
    expect(result).toHaveLength(2);
    const [filesToDownload, filesNotToDownload] = result;
    expect(filesToDownload).toEqual({});
    expect(filesNotToDownload).toEqual({});
    expect((await failure(client.NLWS.nmsDelivery.getFilesToDownload('999'))).errorCode).toBe('DLV-490010');
    const mc = await sdkLogon(campaign.platform.gatewayUrl, 'mc', 'mc');
    try {
      expect((await failure(mc.NLWS.nmsDelivery.getFilesToDownload(delivery.id))).errorCode).toBe('XSV-350013');
    } finally {
      await mc.logoff();
    }
  });

  it('when a job id is unknown or another operator’s, or the method or object cannot run as a job, then a Campaign fault answers', async () => {
    const { delivery } = await editedDelivery(2);
    const job = client.jobInterface({ xtkschema: 'nms:delivery', method: 'Start', object: delivery });
    const jobId = await job.submit();

    expect((await failure(client.jobInterface({ jobId: 'no-such-job' }).getStatus())).errorCode).toBe('XTK-170350');
    const mc = await sdkLogon(campaign.platform.gatewayUrl, 'mc', 'mc');
    try {
      // The message-center operator neither sees, cancels nor pauses the admin's job, and cannot submit one.
      expect((await failure(mc.jobInterface({ jobId }).getStatus())).errorCode).toBe('XTK-170350');
      expect((await failure(mc.jobInterface({ jobId }).cancel())).errorCode).toBe('XTK-170350');
      expect((await failure(mc.jobInterface({ jobId }).getResult())).errorCode).toBe('XTK-170350');
      expect((await failure(mc.jobInterface({ xtkschema: 'nms:delivery', method: 'Start', object: delivery }).submit())).errorCode).toBe('XSV-350013');
    } finally {
      await mc.logoff();
    }
    expect((await failure(client.jobInterface({ xtkschema: 'nms:delivery', method: 'PrepareProof', object: delivery }).submit())).errorCode).toBe('XTK-170351');
    expect((await failure(client.jobInterface({ xtkschema: 'nms:delivery', method: 'Start', object: { label: 'no id' } }).submit())).errorCode).toBe(
      'SOP-330008',
    );
    expect((await failure(client.jobInterface({ xtkschema: 'nms:delivery', method: 'Start', object: { id: '999' } }).submit())).errorCode).toBe('DLV-490010');
    // The admin's own job is unaffected.
    await waitFor('the job to finish', async () => ((await job.getStatus()).status === 5 ? true : undefined), { timeoutMs: 30_000, intervalMs: 300 });
  });
});
