import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { failure, uniqueId, waitFor, type TestPlatform, startSmtpSink, type SmtpSink } from '@cap/platform-testing';
// Adobe's own client, unmodified, logs on in the fixture: the flows start where a Campaign developer starts them.
import { deliveryReport, startCampaignClient, waitForDeliveryState, writeDeliveryTemplate, type CampaignClient, type Nlws } from './fixtures/campaign.client';

/** What the tests read of a delivery action on nms:delivery. */
const DELIVERY_FIELDS = [
  ...['@id', '@internalName', '@state', '@isModel', '@deliveryCode', '@failureText'],
  ...['targeted', 'excluded', 'toDeliver', 'processed', 'success', 'error', 'errorRendering', 'errorRefused'].map((p) => `[properties/@${p}]`),
];

interface FileLine {
  id: string;
  kind: string;
  to: string;
  from: string;
  subject: string;
  body: string;
  meta: Record<string, string>;
}

/**
 * Deliveries end to end: a template written with the SDK (local DB → replicated to the cloud DB), recipients in
 * the cloud DB, nms:delivery#SubmitDelivery through the gateway → cloud-executor's durable delivery job →
 * nms:broadLogRcp rows, rendered messages in the file channel or an SMTP server → indicators back on
 * nms:delivery (local-store) through delivery.state.changed.v1.
 */
describe('deliveries through the unmodified @adobe/acc-js-sdk', () => {
  let campaign: CampaignClient;
  let platform: TestPlatform;
  let smtp: SmtpSink;
  let outDir: string;
  let NLWS: Nlws;
  let cloud: CampaignClient['cloud'];
  const executorEnv = (dir: string, smtpUrl: string) => ({
    CHANNEL_FILE_DIR: dir,
    SMTP_URL: smtpUrl,
    SMTP_TIMEOUT_MS: '3000',
    DELIVERY_BATCH_SIZE: '7',
    DELIVERY_TICK_MS: '200',
    DELIVERY_PROGRESS_MS: '100',
  });

  beforeAll(async () => {
    smtp = await startSmtpSink();
    outDir = await mkdtemp(join(tmpdir(), 'cap-delivery-'));
    campaign = await startCampaignClient({ envFor: { 'cloud-executor': executorEnv(outDir, smtp.url) } });
    ({ platform, NLWS, cloud } = campaign);
  });

  afterAll(async () => {
    await campaign?.stop();
    await smtp?.close();
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  const writeTemplate = (fields: Record<string, unknown>) => writeDeliveryTemplate(campaign, fields);

  /** Recipients straight into the cloud DB (where Campaign v8 keeps them). */
  const seedRecipients = async (rows: { email: string | null; firstName?: string; birthDate?: string | null; blackList?: boolean }[]) => {
    const ids = rows.map(() => uniqueId('rcp'));
    await cloud.query(
      `INSERT INTO nms_recipient (id, email, first_name, birth_date, black_list, created, last_modified)
       SELECT u.id, u.email, u.first_name, u.birth_date, u.black_list, now(), now() FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::boolean[]) AS u(id, email, first_name, birth_date, black_list)`,
      [ids, rows.map((r) => r.email), rows.map((r) => r.firstName ?? null), rows.map((r) => r.birthDate ?? null), rows.map((r) => r.blackList ?? false)],
    );
    return ids;
  };

  /** The delivery action SubmitDelivery created, read through queryDef on nms:delivery (local-store), once it reaches `state`. */
  const waitForDelivery = (label: string, state: number, timeoutMs = 30_000) => waitForDeliveryState(campaign, label, state, DELIVERY_FIELDS, timeoutMs);

  const fileLines = async (deliveryId: string): Promise<FileLine[]> => {
    const files = (await readdir(outDir)).filter((f) => f.startsWith(`dlv-${deliveryId}-`) && f.endsWith('.jsonl'));
    const lines: FileLine[] = [];
    for (const f of files)
      lines.push(
        ...(await readFile(join(outDir, f), 'utf8'))
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as FileLine),
      );
    return lines;
  };

  it('when SubmitDelivery runs a template on the file channel, then each targeted recipient gets a rendered, escaped message and a log; denylisted ones are excluded; a failing render fails alone; indicators reach nms:delivery', async () => {
    const tag = uniqueId('d').replace(/_/g, '');
    const template = await writeTemplate({
      label: 'Newsletter template',
      mailParameters: { subject: 'News for <%= recipient.firstName %>', senderAddress: 'news@example.com' },
      $content: "<p>Hello <%= recipient.firstName || 'friend' %>, born in <%= formatDate(recipient.birthDate, '%4Y') %></p><p><%== delivery.label %></p>",
    });
    const people: { email: string | null; firstName: string; birthDate: string | null; blackList?: boolean }[] = [
      ...Array.from({ length: 15 }, (_, i) => ({ email: `r${i}@${tag}.test`, firstName: `Name${i}`, birthDate: `19${70 + i}-03-04` })),
      { email: `bold@${tag}.test`, firstName: '<b>Bold & "co"</b>', birthDate: '2000-01-01' },
      { email: `nobirth@${tag}.test`, firstName: 'Nobirth', birthDate: null },
      { email: `deny@${tag}.test`, firstName: 'Deny', birthDate: '1990-01-01', blackList: true },
      { email: null, firstName: 'NoAddress', birthDate: '1990-01-01' },
    ];
    const ids = await seedRecipients(people);
    // Another population that the where clause leaves out.
    await seedRecipients([{ email: `other@not-${tag}.test`, firstName: 'Other', birthDate: '1990-01-01' }]);
    const noAddressId = ids[18]!;
    await cloud.query('UPDATE nms_recipient SET external_id = $2 WHERE id = $1', [noAddressId, tag]);

    const label = `June ${tag}`;
    await NLWS.nmsDelivery.SubmitDelivery(template, {
      label,
      targets: { where: { condition: [{ expr: `@email LIKE '%@${tag}.test'`, boolOperator: 'OR' }, { expr: `@externalId = '${tag}'` }] } },
    });
    const delivery = await waitForDelivery(label, 95);
    expect(delivery).toMatchObject({
      isModel: 'false',
      deliveryCode: template,
      properties: { targeted: '19', excluded: '2', toDeliver: '17', processed: '17', success: '16', error: '1', errorRendering: '1', errorRefused: '0' },
    });
    expect(delivery.internalName).toMatch(/^DM\d+$/);
    const deliveryId = String(delivery.id);

    // Logs, row by row (cloud DB).
    const logs = new Map(
      (
        await cloud.query('SELECT recipient_id, status, failure_reason, failure_text, address FROM nms_broad_log_rcp WHERE delivery_id = $1', [deliveryId])
      ).rows.map((r) => [r.recipient_id, r]),
    );
    expect(logs.size).toBe(17);
    ids.forEach((id, i) => {
      const person = people[i]!;
      if (person.blackList || person.email === null) return expect(logs.has(id)).toBe(false);
      const log = logs.get(id)!;
      expect(log.address).toBe(person.email);
      if (person.birthDate === null) {
        expect(log).toMatchObject({ status: 2, failure_reason: 15 });
        expect(log.failure_text).toMatch(/^Personalisation error: formatDate: 'recipient.birthDate' is empty \(line 1, column \d+\)$/);
      } else expect(log).toMatchObject({ status: 1, failure_reason: 0, failure_text: null });
    });

    // The same logs through queryDef on the cloud schema (cloud-executor), grouped by status: the delivery report.
    expect(await deliveryReport(campaign, deliveryId)).toEqual([
      ['1', '0', '16'],
      ['2', '15', '1'],
    ]);

    // The file channel's output: one line per sent message, rendered and escaped.
    const lines = await fileLines(deliveryId);
    expect(lines).toHaveLength(16);
    expect(new Set(lines.map((l) => l.id)).size).toBe(16);
    const r3 = lines.find((l) => l.to === `r3@${tag}.test`)!;
    expect(r3).toMatchObject({
      kind: 'email',
      from: 'news@example.com',
      subject: 'News for Name3',
      body: `<p>Hello Name3, born in 1973</p><p>${label}</p>`,
      meta: { deliveryId },
    });
    expect(lines.find((l) => l.to === `bold@${tag}.test`)!.body).toBe(`<p>Hello &lt;b&gt;Bold &amp; &quot;co&quot;&lt;/b&gt;, born in 2000</p><p>${label}</p>`);
    expect(lines.find((l) => l.to === `bold@${tag}.test`)!.subject).toBe('News for <b>Bold & "co"</b>');

    // The delivery action is mirrored to the cloud copy of nms:delivery like any replicated write.
    await waitFor(
      'the delivery action in the cloud copy',
      async () => (await cloud.query('SELECT state FROM nms_delivery WHERE id = $1', [deliveryId])).rows[0]?.state === 95,
    );
  });

  it('when SubmitDelivery is given a bad request, then the fault names the problem and nothing is recorded', async () => {
    const template = await writeTemplate({ label: 'Bad requests', $content: '<p><%= recipient.firstName %></p>' });
    const jobs = async () => Number((await cloud.query('SELECT count(*) AS n FROM cap_delivery_job')).rows[0].n);
    const before = await jobs();
    const unknown = await failure(NLWS.nmsDelivery.SubmitDelivery('NO_SUCH_TEMPLATE', {}));
    expect(unknown.errorCode).toBe('DLV-490001');
    expect(unknown.faultString).toContain("'NO_SUCH_TEMPLATE'");
    const personalisation = await failure(NLWS.nmsDelivery.SubmitDelivery(template, { $content: '<p><%= recipient.shoeSize %></p>' }));
    expect(personalisation.errorCode).toBe('DLV-490004');
    expect(personalisation.faultString).toContain("'recipient.shoeSize' is not a field of recipient");
    const syntax = await failure(NLWS.nmsDelivery.SubmitDelivery(template, { $content: '<p><%= recipient.firstName </p>' }));
    expect(syntax.faultString).toContain("'<%=' is not closed");
    const target = await failure(
      NLWS.nmsDelivery.SubmitDelivery(template, { targets: { where: { condition: { expr: "@email = 'x' OR 1=1; DROP TABLE nms_recipient" } } } }),
    );
    expect(target.errorCode).toBe('DLV-490003');
    const routing = await failure(NLWS.nmsDelivery.SubmitDelivery(template, { routing: 'pigeon' }));
    expect(routing.errorCode).toBe('DLV-490005');
    const field = await failure(NLWS.nmsDelivery.SubmitDelivery(template, { shoeSize: '44' }));
    expect(field.errorCode).toBe('DLV-490002');
    expect(await jobs()).toBe(before);
  });

  it('when a template routes to SMTP, then the messages reach a real SMTP server; a recipient the server refuses is Failed with its reason', async () => {
    const tag = uniqueId('s').replace(/_/g, '');
    const template = await writeTemplate({
      label: 'SMTP template',
      routing: 'smtp',
      mailParameters: { subject: 'Hi <%= recipient.firstName %>', senderAddress: 'smtp-news@example.com' },
      $content: '<p>Dear <%= recipient.firstName %></p>',
    });
    const suffix = `${tag}.example.com`;
    await seedRecipients([
      { email: `ann@${suffix}`, firstName: 'Ann' },
      { email: `bob@${suffix}`, firstName: 'Bob' },
      { email: `ghost-${tag}@reject.test`, firstName: 'Ghost' },
    ]);
    const label = `SMTP ${tag}`;
    await NLWS.nmsDelivery.SubmitDelivery(template, { label, targets: { where: { condition: { expr: `@email LIKE '%${tag}%'` } } } });
    const delivery = await waitForDelivery(label, 95);
    expect(delivery.properties).toMatchObject({ toDeliver: '3', success: '2', error: '1', errorRefused: '1' });
    const mails = smtp.received.filter((m) => m.to[0]!.includes(tag));
    expect(mails.map((m) => m.to[0]).sort()).toEqual([`ann@${suffix}`, `bob@${suffix}`]);
    const ann = mails.find((m) => m.to[0] === `ann@${suffix}`)!;
    expect(ann.from).toBe('smtp-news@example.com');
    expect(ann.data).toMatch(/^Subject: Hi Ann\r?$/m);
    expect(ann.data).toContain('<p>Dear Ann</p>');
    const refused = (
      await cloud.query("SELECT status, failure_reason, failure_text FROM nms_broad_log_rcp WHERE delivery_id = $1 AND address LIKE '%reject.test'", [
        String(delivery.id),
      ])
    ).rows[0];
    expect(refused).toMatchObject({ status: 2, failure_reason: 1 });
    expect(refused.failure_text).toContain('No such user');
  });

  it('when cloud-executor is killed in the middle of a delivery, then a new one resumes it: every log is sent once, none twice', async () => {
    const tag = uniqueId('k').replace(/_/g, '');
    const template = await writeTemplate({
      label: 'Resume template',
      mailParameters: { subject: 'Resume <%= recipient.firstName %>' },
      $content: '<p><%= recipient.firstName %></p>',
    });
    const total = 1_500;
    await seedRecipients(Array.from({ length: total }, (_, i) => ({ email: `k${i}@${tag}.test`, firstName: `K${i}` })));
    const label = `Resume ${tag}`;
    await NLWS.nmsDelivery.SubmitDelivery(template, { label, targets: { where: { condition: { expr: `@email LIKE '%@${tag}.test'` } } } });
    const job = await waitFor(
      'the delivery half sent',
      async () => {
        const r = (await cloud.query("SELECT delivery_id::text AS id, processed FROM cap_delivery_job WHERE definition->>'label' = $1", [label])).rows[0];
        return r && r.processed > 0 && r.processed < total ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    const executor = platform.procs.get('cloud-executor')!;
    executor.signal('SIGKILL');
    await executor.exited;
    const stoppedAt = Number((await cloud.query('SELECT processed FROM cap_delivery_job WHERE delivery_id = $1', [job.id])).rows[0].processed);
    expect(stoppedAt).toBeLessThan(total);

    await platform.replace('cloud-executor'); // with executorEnv, as started

    const delivery = await waitForDelivery(label, 95, 60_000);
    expect(delivery.properties).toMatchObject({ toDeliver: String(total), processed: String(total), success: String(total), error: '0' });
    const statuses = (await cloud.query('SELECT status, count(*)::int AS n FROM nms_broad_log_rcp WHERE delivery_id = $1 GROUP BY status', [job.id])).rows;
    expect(statuses).toEqual([{ status: 1, n: total }]);
    // The channel got every message exactly once: a batch cut by the kill was sent again under the same key.
    const lines = await fileLines(job.id);
    expect(lines).toHaveLength(total);
    expect(new Set(lines.map((l) => l.to)).size).toBe(total);
  });
});
