import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { failure, freePort, uniqueId, waitFor, type TestPlatform } from '@cap/platform-testing';
// Adobe's own client, unmodified, logs on in the fixture: workflows and templates are written and started as a Campaign client would.
import {
  createWorkflow as writeWorkflow,
  engineState as readEngineState,
  startCampaignClient,
  waitForWorkflowState,
  writeDeliveryTemplate,
  type CampaignClient,
  type Nlws,
} from './fixtures/campaign.client';

/** The tasks of a query → delivery workflow that ran to its end: [activity, status]. */
const TARGETED_AND_SENT = [
  ['start', 'done'],
  ['target', 'done'],
  ['send', 'done'],
  ['end', 'done'],
];

/**
 * Workflow activities end to end through the gateway and the unmodified SDK: the delivery activity (a delivery
 * action from a template, sent to the population of the query before it, followed to its end, surviving an
 * engine kill), workflow variables in a query's conditions, and Stop interrupting a running script.
 */
describe('workflow activities: delivery, variables in query conditions, Stop interrupting a script', () => {
  let campaign: CampaignClient;
  let platform: TestPlatform;
  let outDir: string;
  let NLWS: Nlws;
  let cloud: CampaignClient['cloud'];
  let deadSmtpUrl: string;
  const engineEnv = () => ({
    CHANNEL_FILE_DIR: outDir,
    SMTP_URL: deadSmtpUrl,
    SMTP_TIMEOUT_MS: '1000',
    DELIVERY_BATCH_SIZE: '50',
    DELIVERY_TICK_MS: '200',
    DELIVERY_PROGRESS_MS: '100',
    DELIVERY_PAUSE_MS: '60000',
    WORKFLOW_TICK_MS: '200',
    WORKFLOW_TASK_LEASE_MS: '3000',
    // Only Stop ends the runaway script of these tests.
    WORKFLOW_JS_CPU_LIMIT_MS: '120000',
    WORKFLOW_JS_TIMEOUT_MS: '300000',
  });

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'cap-wkf-delivery-'));
    deadSmtpUrl = `smtp://127.0.0.1:${await freePort()}`; // nothing listens: an SMTP delivery stays paused
    campaign = await startCampaignClient({ envFor: { 'cloud-executor': engineEnv() } });
    ({ platform, NLWS, cloud } = campaign);
  });

  afterAll(async () => {
    await campaign?.stop();
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  const createWorkflow = (activities: string) => writeWorkflow(campaign, activities, 'WKFACT');
  const engineState = (internalName: string) => readEngineState(campaign, internalName);
  const waitForState = (internalName: string, state: number, timeoutMs?: number) => waitForWorkflowState(campaign, internalName, state, timeoutMs);
  const writeTemplate = (fields: Record<string, unknown>) => writeDeliveryTemplate(campaign, fields);
  const seedRecipients = async (rows: { email: string | null; firstName: string; blackList?: boolean }[]) => {
    const ids = rows.map(() => uniqueId('rcp'));
    await cloud.query(
      `INSERT INTO nms_recipient (id, email, first_name, black_list, created, last_modified)
       SELECT u.id, u.email, u.first_name, u.black_list, now(), now() FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[]) AS u(id, email, first_name, black_list)`,
      [ids, rows.map((r) => r.email), rows.map((r) => r.firstName), rows.map((r) => r.blackList ?? false)],
    );
    return ids;
  };
  const fileLines = async (deliveryId: string): Promise<{ id: string; to: string; subject: string; body: string }[]> => {
    const files = (await readdir(outDir)).filter((f) => f.startsWith(`dlv-${deliveryId}-`) && f.endsWith('.jsonl'));
    const lines = [];
    for (const f of files)
      lines.push(
        ...(await readFile(join(outDir, f), 'utf8'))
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l)),
      );
    return lines;
  };
  const deliveryOf = async (deliveryId: string) =>
    NLWS.xtkQueryDef
      .create({
        schema: 'nms:delivery',
        operation: 'get',
        select: {
          node: [
            { expr: '@id' },
            { expr: '@internalName' },
            { expr: '@label' },
            { expr: '@state' },
            { expr: '@isModel' },
            { expr: '@deliveryCode' },
            { expr: '[properties/@targeted]' },
            { expr: '[properties/@excluded]' },
            { expr: '[properties/@toDeliver]' },
            { expr: '[properties/@processed]' },
            { expr: '[properties/@success]' },
            { expr: '[properties/@error]' },
            { expr: '[properties/@errorRendering]' },
          ],
        },
        where: { condition: { expr: `@id = ${deliveryId}` } },
      })
      .executeQuery();

  it('when a delivery activity follows a query whose condition uses a workflow variable, then the population gets one log and one message each, the indicators match row by row and the workflow finishes', async () => {
    const tag = uniqueId('wd')
      .replace(/[^A-Za-z0-9]/g, '')
      .toLowerCase();
    const template = await writeTemplate({
      label: 'Workflow newsletter',
      mailParameters: { subject: 'Hello <%= recipient.firstName %>', senderAddress: 'wkf@example.com' },
      $content: "<p>Dear <%= recipient.firstName || 'friend' %></p>",
    });
    const people: { email: string; firstName: string; blackList?: boolean }[] = [
      ...Array.from({ length: 6 }, (_, i) => ({ email: `p${i}@${tag}.test`, firstName: `P${i}` })),
      { email: `deny@${tag}.test`, firstName: 'Deny', blackList: true },
      { email: `quote'd@${tag}.test`, firstName: `O'Quote` },
    ];
    const ids = await seedRecipients(people);
    await seedRecipients([{ email: `p0@other-${tag}.test`, firstName: 'Other' }]); // not in the population
    const name = await createWorkflow(
      '<start name="start"><transition target="target"/></start>' +
        `<query name="target" schema="nms:recipient"><where><condition expr="@email LIKE '%@$(instance/vars/@domain)'"/></where><transition target="send"/></query>` +
        `<delivery name="send" label="Send" template="${template}" deliveryLabel="Workflow ${tag} $(vars/@recCount)"><transitions><done name="done" target="end"/></transitions></delivery>` +
        '<end name="end"/>',
    );
    await NLWS.xtkWorkflow.startWithParameters(name, { domain: `${tag}.test` });
    expect(await waitForState(name, 20, 60_000)).toMatchObject({ failed: false, status: 'Finished' });

    const state = await engineState(name);
    expect(state.tasks.map((t) => [t.activity, t.status])).toEqual(TARGETED_AND_SENT);
    const send = state.tasks[2]!;
    const deliveryId = String(send.task_vars['deliveryId']);
    expect(send.task_vars).toEqual({
      deliveryId,
      deliveryName: expect.stringMatching(/^DM\d+$/),
      targeted: 8,
      excluded: 1,
      toDeliver: 7,
      success: 7,
      error: 0,
    });
    expect(state.tasks[3]!.vars).toMatchObject({ deliveryId, recCount: 8 });
    const lines = state.log.filter((l) => l.activity === 'send').map((l) => l.message);
    expect(lines).toEqual([
      `delivery ${send.task_vars['deliveryName']} (${deliveryId}) created from template ${template}: 8 targeted, 1 excluded, 7 to deliver`,
      `delivery ${send.task_vars['deliveryName']} (${deliveryId}) finished: 8 targeted, 1 excluded, 7 to deliver, 7 sent, 0 failed`,
    ]);

    // The logs, row by row: each recipient of the population but the denylisted one, sent.
    const logs = new Map(
      (await cloud.query('SELECT recipient_id, status, failure_reason, address FROM nms_broad_log_rcp WHERE delivery_id = $1', [deliveryId])).rows.map((r) => [
        r.recipient_id,
        r,
      ]),
    );
    expect(logs.size).toBe(7);
    ids.forEach((id, i) => {
      if (people[i]!.blackList) return expect(logs.has(id)).toBe(false);
      expect(logs.get(id)).toEqual({ recipient_id: id, status: 1, failure_reason: 0, address: people[i]!.email });
    });
    // The messages, one per log, personalised.
    const messages = await fileLines(deliveryId);
    expect(messages.map((m) => m.to).sort()).toEqual(
      people
        .filter((p) => !p.blackList)
        .map((p) => p.email)
        .sort(),
    );
    expect(messages.find((m) => m.to === `p3@${tag}.test`)).toMatchObject({ subject: 'Hello P3', body: '<p>Dear P3</p>' });
    expect(messages.find((m) => m.to === `quote'd@${tag}.test`)!.body).toBe('<p>Dear O&#39;Quote</p>');
    // The indicators on nms:delivery (local-store, through Kafka), field by field.
    const delivery = await waitFor('the delivery indicators on nms:delivery', async () => {
      const d = await deliveryOf(deliveryId);
      return Number(d.state) === 95 ? d : undefined;
    });
    expect(delivery).toMatchObject({
      isModel: 'false',
      deliveryCode: template,
      label: `Workflow ${tag} 8`,
      properties: { targeted: '8', excluded: '1', toDeliver: '7', processed: '7', success: '7', error: '0', errorRendering: '0' },
    });
  });

  it('when a delivery activity names a template that does not exist, then Start refuses the workflow with WKF-560015; a missing variable in a query condition puts the workflow in error', async () => {
    const unknown = await createWorkflow(
      '<start name="start"><transition target="send"/></start><delivery name="send" template="NO_SUCH_TEMPLATE" target="template"><transition target="end"/></delivery><end name="end"/>',
    );
    const refused = await failure(NLWS.xtkWorkflow.start(unknown));
    expect(refused.errorCode).toBe('WKF-560015');
    expect(refused.faultString).toContain("delivery activity 'send': DLV-490001 No delivery template 'NO_SUCH_TEMPLATE'");
    const noTemplate = await createWorkflow(
      '<start name="start"><transition target="send"/></start><delivery name="send"><transition target="end"/></delivery><end name="end"/>',
    );
    expect((await failure(NLWS.xtkWorkflow.start(noTemplate))).errorCode).toBe('WKF-560014');

    const missing = await createWorkflow(
      `<start name="start"><transition target="target"/></start><query name="target" schema="nms:recipient"><where><condition expr="@email = $(vars/@email)"/></where><transition target="end"/></query><end name="end"/>`,
    );
    await NLWS.xtkWorkflow.start(missing);
    expect((await waitForState(missing, 13)).status).toBe(
      "Error: WKF-560040 query activity 'target': the where condition uses $(vars/@email), but vars.email is not set",
    );
    await NLWS.xtkWorkflow.stop(missing);
  });

  it('when the delivery of a delivery activity fails, then the workflow goes to error with the reason in its log', async () => {
    const tag = uniqueId('wf')
      .replace(/[^A-Za-z0-9]/g, '')
      .toLowerCase();
    const template = await writeTemplate({ label: 'SMTP down', routing: 'smtp', mailParameters: { subject: 'Hi' }, $content: '<p>Hi</p>' });
    await seedRecipients([{ email: `a@${tag}.test`, firstName: 'A' }]);
    const name = await createWorkflow(
      `<start name="start"><transition target="send"/></start><delivery name="send" template="${template}"><where><condition expr="@email LIKE '%@${tag}.test'"/></where><transition target="end"/></delivery><end name="end"/>`,
    );
    await NLWS.xtkWorkflow.start(name);
    // The SMTP server is down: the delivery pauses; the runner then gives it up (as failJob records it).
    const send = await waitFor('the delivery activity waiting for its delivery', async () =>
      (await engineState(name)).tasks.find((t) => t.activity === 'send' && t.status === 'waiting' && t.task_vars['deliveryId']),
    );
    const deliveryId = String(send.task_vars['deliveryId']);
    await waitFor(
      'the delivery targeted',
      async () => (await cloud.query("SELECT 1 FROM cap_delivery_job WHERE delivery_id = $1 AND phase = 'sending'", [deliveryId])).rowCount === 1,
    );
    await cloud.query(
      `UPDATE cap_delivery_job SET phase = 'failed', state = 99, failure_text = 'the SMTP server is unreachable', state_version = state_version + 1 WHERE delivery_id = $1`,
      [deliveryId],
    );

    const failed = await waitForState(name, 13);
    expect(failed.failed).toBe(true);
    expect(failed.status).toMatch(
      new RegExp(`^Error: WKF-560042 delivery activity 'send': the delivery DM\\d+ \\(${deliveryId}\\) failed: the SMTP server is unreachable$`),
    );
    const state = await engineState(name);
    expect(state.log.filter((l) => l.activity === 'send' && l.level === 'error').map((l) => l.message)).toEqual([failed.status.slice('Error: '.length)]);
    expect(state.tasks.map((t) => [t.activity, t.status])).toEqual([
      ['start', 'done'],
      ['send', 'failed'],
      ['send', 'pending'],
    ]);
    await NLWS.xtkWorkflow.stop(name);
    await waitForState(name, 20);
  });

  it("when Stop is called while a script runs, then the script is interrupted at once (its writes stop), the task is cancelled, the workflow finishes, and another workflow's script runs to its end", async () => {
    const tag = uniqueId('st')
      .replace(/[^A-Za-z0-9]/g, '')
      .toLowerCase();
    const email = `spin@${tag}.test`;
    await seedRecipients([{ email, firstName: '0' }]);
    const spin = await createWorkflow(
      '<start name="start"><transition target="spin"/></start>' +
        `<js name="spin"><script><![CDATA[var n = 0;\nlogInfo("spinning");\nwhile (true) {\n  n++;\n  if (n % 20000 === 0) xtk.session.Write({ xtkschema: "nms:recipient", _key: "@email", email: "${email}", firstName: String(n) });\n}]]></script><transition target="end"/></js>` +
        '<end name="end"/>',
    );
    const other = await createWorkflow(
      '<start name="start"><transition target="work"/></start><js name="work"><script><![CDATA[var t = Date.now();\nwhile (Date.now() - t < 1500) {}\nvars.done = true;]]></script><transition target="end"/></js><end name="end"/>',
    );
    const firstName = async () => (await cloud.query('SELECT first_name FROM nms_recipient WHERE email = $1', [email])).rows[0].first_name as string;
    await NLWS.xtkWorkflow.start(spin);
    await waitFor('the script to be writing', async () => Number(await firstName()) > 0, { timeoutMs: 20_000 });
    await NLWS.xtkWorkflow.start(other);
    const stoppedAt = Date.now();
    await NLWS.xtkWorkflow.stop(spin);
    expect(await waitForState(spin, 20, 15_000)).toMatchObject({ failed: false, status: 'Stopped' });
    expect(Date.now() - stoppedAt).toBeLessThan(10_000); // far below its CPU limit of 120 s
    const written = await firstName();
    const state = await engineState(spin);
    expect(state.tasks.map((t) => [t.activity, t.status])).toEqual([
      ['start', 'done'],
      ['spin', 'cancelled'],
    ]);
    const lines = state.log.map((l) => `${l.activity ?? '-'}: ${l.message}`);
    expect(lines).toEqual(
      expect.arrayContaining([
        'spin: spinning',
        expect.stringMatching(/^spin: WKF-560035 JavaScript activity 'spin': the script was interrupted: the workflow was stopped \(line [345]\)$/),
      ]),
    );
    expect(lines[lines.length - 1]).toBe('-: Workflow stopped');
    // The stop went through "stop requested" while the script was being interrupted, or straight to finished.
    expect(lines.some((l) => l.startsWith('-: Stop requested (1 active task cancelled; interrupting 1 running activity)'))).toBe(true);
    // No write after the workflow was stopped.
    await waitFor('the other workflow to finish', async () => (await engineState(other)).state === 20, { timeoutMs: 20_000 });
    expect(await firstName()).toBe(written);
    expect((await engineState(other)).tasks.find((t) => t.activity === 'end')!.vars).toEqual({ done: true });
  });

  // Last: it replaces the platform's cloud-executor.
  it('when the engine is killed while the delivery activity waits for its delivery, then a new engine follows the same delivery: every recipient gets one message, none two, and the workflow finishes once', async () => {
    const tag = uniqueId('wk')
      .replace(/[^A-Za-z0-9]/g, '')
      .toLowerCase();
    const template = await writeTemplate({
      label: 'Kill template',
      mailParameters: { subject: 'K <%= recipient.firstName %>' },
      $content: '<p><%= recipient.firstName %></p>',
    });
    const total = 1_500;
    await seedRecipients(Array.from({ length: total }, (_, i) => ({ email: `k${i}@${tag}.test`, firstName: `K${i}` })));
    const name = await createWorkflow(
      '<start name="start"><transition target="target"/></start>' +
        `<query name="target" schema="nms:recipient"><where><condition expr="@email LIKE '%@${tag}.test'"/></where><transition target="send"/></query>` +
        `<delivery name="send" template="${template}"><transition target="end"/></delivery><end name="end"/>`,
    );
    await NLWS.xtkWorkflow.start(name);
    const send = await waitFor(
      'the delivery half sent',
      async () => {
        const task = (await engineState(name)).tasks.find((t) => t.activity === 'send' && t.task_vars['deliveryId']);
        if (!task) return undefined;
        const job = (await cloud.query('SELECT processed FROM cap_delivery_job WHERE delivery_id = $1', [task.task_vars['deliveryId']])).rows[0];
        return job && job.processed > 0 && job.processed < total ? task : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    const first = platform.procs.get('cloud-executor')!;
    first.signal('SIGKILL');
    await first.exited;
    await platform.replace('cloud-executor'); // stopped with the platform
    expect(await waitForState(name, 20, 90_000)).toMatchObject({ failed: false, status: 'Finished' });

    const deliveryId = String(send.task_vars['deliveryId']);
    const state = await engineState(name);
    expect(state.tasks.map((t) => [t.activity, t.status])).toEqual(TARGETED_AND_SENT);
    // One delivery action for the task, every log sent once, every message written once.
    expect((await cloud.query('SELECT delivery_id::text AS id FROM cap_delivery_job WHERE workflow_task_id = $1', [send.id])).rows).toEqual([
      { id: deliveryId },
    ]);
    expect((await cloud.query('SELECT status, count(*)::int AS n FROM nms_broad_log_rcp WHERE delivery_id = $1 GROUP BY status', [deliveryId])).rows).toEqual([
      { status: 1, n: total },
    ]);
    const messages = await fileLines(deliveryId);
    expect(messages).toHaveLength(total);
    expect(new Set(messages.map((m) => m.to)).size).toBe(total);
    expect(state.tasks[2]!.task_vars).toMatchObject({ deliveryId, toDeliver: total, success: total, error: 0 });
  });
});
