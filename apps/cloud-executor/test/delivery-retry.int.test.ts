import { startSmtpSink, uniqueId, waitFor, type SmtpSink, type TestPlatform } from '@cap/platform-testing';
// Adobe's own client, unmodified, logs on in the fixture: the flows start where a Campaign developer starts them.
import { deliveryReport, startCampaignClient, waitForDeliveryState, type CampaignClient, type Nlws } from './fixtures/campaign.client';

/**
 * Per-message retries inside a delivery, end to end: an SMTP server that answers 451 to some recipients for their
 * first attempts, 451 for ever to one, 550 / 554 to others. Temporary failures stay pending and are tried again
 * with backoff (DELIVERY_RETRY_*), permanent ones fail at once, and the delivery finishes only once the retries are
 * settled — across a cloud-executor SIGKILLed while messages wait for their retry.
 */
describe('delivery messages that fail temporarily are retried', () => {
  let campaign: CampaignClient;
  let platform: TestPlatform;
  let smtp: SmtpSink;
  let NLWS: Nlws;
  let cloud: CampaignClient['cloud'];
  /** Recipients whose first N attempts the server answers 451 (Infinity: always). */
  const busyFor = new Map<string, number>();
  const executorEnv = (smtpUrl: string) => ({
    SMTP_URL: smtpUrl,
    SMTP_TIMEOUT_MS: '3000',
    // Keep the breaker shut: this test is about per-message answers, not about the server being unwell.
    SMTP_BREAKER_VOLUME_THRESHOLD: '1000',
    DELIVERY_BATCH_SIZE: '5',
    DELIVERY_TICK_MS: '200',
    DELIVERY_PROGRESS_MS: '100',
    DELIVERY_RETRY_COUNT: '3',
    DELIVERY_RETRY_PERIOD_MS: '2500',
    DELIVERY_RETRY_MAX_PERIOD_MS: '2500',
  });

  beforeAll(async () => {
    smtp = await startSmtpSink({
      answerRcpt: (address, attempt) => {
        const busy = busyFor.get(address);
        if (busy !== undefined && attempt <= busy) return { code: 451, message: 'Mailbox busy, try again later' };
        if (address.startsWith('policy-')) return { code: 554, message: 'Message refused by policy' };
        return undefined;
      },
    });
    campaign = await startCampaignClient({ envFor: { 'cloud-executor': executorEnv(smtp.url) } });
    ({ platform, NLWS, cloud } = campaign);
  });

  afterAll(async () => {
    await campaign?.stop();
    await smtp?.close();
  });

  it('when the server answers 4xx to some recipients, then they are retried until sent (or failed once the attempts are spent), 5xx fail at once, the delivery finishes after the retries, and a kill while they wait sends nothing twice', async () => {
    const tag = uniqueId('rt').replace(/_/g, '').toLowerCase();
    const internalName = uniqueId('TPL').replace(/[^A-Za-z0-9_]/g, '_');
    await NLWS.xtkSession.write({
      xtkschema: 'nms:delivery',
      internalName,
      isModel: true,
      label: 'Retry template',
      routing: 'smtp',
      mailParameters: { subject: 'Hi <%= recipient.firstName %>', senderAddress: 'retry@example.com' },
      $content: "<p>Dear <%= recipient.firstName %>, born <%= formatDate(recipient.birthDate, '%4Y') %></p>",
    });
    await waitFor(
      'the template in the cloud DB',
      async () => (await cloud.query('SELECT 1 FROM nms_delivery WHERE internal_name = $1 AND is_model', [internalName])).rowCount === 1,
      { timeoutMs: 15_000 },
    );

    // expected: final status, reason, attempts the server sees, whether it receives the message.
    type Expected = { status: number; reason: number; attempts: number; received: boolean; text?: RegExp };
    const people: { email: string; birthDate: string | null; expected: Expected }[] = [
      ...Array.from({ length: 8 }, (_, i) => ({
        email: `ok${i}-${tag}@example.com`,
        birthDate: '1980-01-01',
        expected: { status: 1, reason: 0, attempts: 1, received: true },
      })),
      ...[0, 1].map((i) => ({
        email: `once${i}-${tag}@example.com`,
        birthDate: '1980-01-01',
        expected: { status: 1, reason: 0, attempts: 2, received: true },
      })),
      { email: `twice-${tag}@example.com`, birthDate: '1980-01-01', expected: { status: 1, reason: 0, attempts: 3, received: true } },
      {
        email: `always-${tag}@example.com`,
        birthDate: '1980-01-01',
        expected: {
          status: 2,
          reason: 20,
          attempts: 4,
          received: false,
          text: /^Temporary failure, still failing after 4 attempts: .*Mailbox busy, try again later/,
        },
      },
      { email: `ghost-${tag}@reject.test`, birthDate: '1980-01-01', expected: { status: 2, reason: 1, attempts: 1, received: false, text: /No such user/ } },
      {
        email: `policy-${tag}@example.com`,
        birthDate: '1980-01-01',
        expected: { status: 2, reason: 20, attempts: 1, received: false, text: /refused by policy/ },
      },
      {
        email: `nobirth-${tag}@example.com`,
        birthDate: null,
        expected: { status: 2, reason: 15, attempts: 0, received: false, text: /^Personalisation error: formatDate/ },
      },
    ];
    busyFor.set(`once0-${tag}@example.com`, 1);
    busyFor.set(`once1-${tag}@example.com`, 1);
    busyFor.set(`twice-${tag}@example.com`, 2);
    busyFor.set(`always-${tag}@example.com`, Number.POSITIVE_INFINITY);
    const ids = people.map(() => uniqueId('rcp'));
    await cloud.query(
      `INSERT INTO nms_recipient (id, email, first_name, birth_date, black_list, created, last_modified)
       SELECT u.id, u.email, 'Pat', u.birth_date, false, now(), now() FROM unnest($1::text[], $2::text[], $3::date[]) AS u(id, email, birth_date)`,
      [ids, people.map((p) => p.email), people.map((p) => p.birthDate)],
    );

    const label = `Retry ${tag}`;
    await NLWS.nmsDelivery.SubmitDelivery(internalName, { label, targets: { where: { condition: { expr: `@email LIKE '%${tag}%'` } } } });

    // First pass done: the permanent outcomes and the first-time successes are final, four messages wait for a retry,
    // and the delivery is still in progress (it does not finish while retries are pending).
    const final = people.filter((p) => p.expected.attempts <= 1 || p.expected.reason === 15).length;
    const waiting = await waitFor(
      'the first pass committed, four messages waiting for their retry',
      async () => {
        const r = (
          await cloud.query(
            `SELECT j.delivery_id::text AS id, j.state, j.processed, (SELECT count(*)::int FROM cap_delivery_retry r WHERE r.delivery_id = j.delivery_id) AS retries,
                    j.next_run_at > now() + interval '400 milliseconds' AS idle
               FROM cap_delivery_job j WHERE definition->>'label' = $1`,
            [label],
          )
        ).rows[0];
        return r && r.processed === final && r.retries === 4 && r.idle ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    expect(waiting.state).toBe(55);
    const deliveryId: string = waiting.id;
    const pending = (
      await cloud.query('SELECT address, status, failure_reason, failure_text FROM nms_broad_log_rcp WHERE delivery_id = $1 AND status = 0 ORDER BY address', [
        deliveryId,
      ])
    ).rows;
    expect(pending.map((r) => r.address)).toEqual([
      `always-${tag}@example.com`,
      `once0-${tag}@example.com`,
      `once1-${tag}@example.com`,
      `twice-${tag}@example.com`,
    ]);
    for (const r of pending) {
      expect(r.failure_reason).toBe(20);
      expect(r.failure_text).toMatch(/^Temporary failure \(attempt 1 of 4\), tried again at \S+: .*Mailbox busy/);
    }

    // Killed while the messages wait: the restarted service resumes the retries, and sends nothing twice.
    const executor = platform.procs.get('cloud-executor')!;
    executor.signal('SIGKILL');
    await executor.exited;
    await platform.replace('cloud-executor'); // stopped with the platform

    // Indicators on nms:delivery (local-store), through queryDef, once the delivery is finished.
    const delivery = await waitForDeliveryState(
      campaign,
      label,
      95,
      [
        '@id',
        '@state',
        ...['targeted', 'toDeliver', 'processed', 'success', 'error', 'errorRendering', 'errorRefused', 'errorUnreachable'].map((p) => `[properties/@${p}]`),
      ],
      60_000,
    );
    expect(String(delivery.id)).toBe(deliveryId);
    expect(delivery.properties).toEqual({
      targeted: '15',
      toDeliver: '15',
      processed: '15',
      success: '11',
      error: '4',
      errorRendering: '1',
      errorRefused: '3',
      errorUnreachable: '0',
    });

    // Logs, row by row, and what the server saw for each recipient.
    const logs = new Map(
      (
        await cloud.query('SELECT recipient_id, address, status, failure_reason, failure_text FROM nms_broad_log_rcp WHERE delivery_id = $1', [deliveryId])
      ).rows.map((r) => [r.recipient_id, r]),
    );
    expect(logs.size).toBe(people.length);
    people.forEach((person, i) => {
      const log = logs.get(ids[i]!)!;
      const e = person.expected;
      expect({ address: log.address, status: log.status, reason: log.failure_reason }).toEqual({ address: person.email, status: e.status, reason: e.reason });
      if (e.text) expect(log.failure_text).toMatch(e.text);
      else expect(log.failure_text).toBeNull();
      expect({ address: person.email, attempts: smtp.attempts.get(person.email) ?? 0 }).toEqual({ address: person.email, attempts: e.attempts });
      expect({ address: person.email, received: smtp.received.filter((m) => m.to.includes(person.email)).length }).toEqual({
        address: person.email,
        received: e.received ? 1 : 0,
      });
    });
    // Every accepted message carries its log id, once.
    const messageIds = smtp.received.filter((m) => m.to[0]!.includes(tag)).map((m) => /^x-cap-message-id:\s*(\S+)/im.exec(m.data)?.[1]);
    expect(messageIds).toHaveLength(11);
    expect(messageIds.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
    expect(new Set(messageIds).size).toBe(11);

    // The report by queryDef on the logs (cloud-executor), and no retry left behind.
    expect(await deliveryReport(campaign, deliveryId)).toEqual([
      ['1', '0', '11'],
      ['2', '1', '1'],
      ['2', '15', '1'],
      ['2', '20', '2'],
    ]);
    expect((await cloud.query('SELECT count(*)::int AS n FROM cap_delivery_retry WHERE delivery_id = $1', [deliveryId])).rows[0].n).toBe(0);
  });
});
