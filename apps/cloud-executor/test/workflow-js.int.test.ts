import { randomUUID } from 'node:crypto';
import { uniqueId, waitFor, type TestPlatform } from '@cap/platform-testing';
// Adobe's own client, unmodified, logs on in the fixture: workflows are written and started as a Campaign client would.
import {
  createWorkflow as writeWorkflow,
  engineState as readEngineState,
  startCampaignClient,
  waitForWorkflowState,
  type CampaignClient,
  type Nlws,
} from './fixtures/campaign.client';

const CPU_LIMIT_MS = 1_000;
/** Short claims, so that a replica takes over the activity of a killed engine quickly. */
const ENGINE_ENV = { WORKFLOW_JS_CPU_LIMIT_MS: String(CPU_LIMIT_MS), WORKFLOW_JS_TIMEOUT_MS: '30000', WORKFLOW_TICK_MS: '200', WORKFLOW_TASK_LEASE_MS: '3000' };

/** A <js> activity; the script goes in CDATA, as Campaign exports it. */
const js = (name: string, script: string, transitions: string) => `<js name="${name}"><script><![CDATA[${script}]]></script>${transitions}</js>`;

/**
 * Activities that do work, end to end: a workflow written with the SDK (Write on xtk:workflow) and started
 * with xtk:workflow#Start; its JavaScript runs in the QuickJS sandbox of cloud-executor, reading and writing
 * through the same data paths as SOAP clients (cloud schemas in-process, local and staging ones through
 * local-store, staged rows through staging-sync).
 */
describe('workflow activities: JavaScript in the sandbox, query and update data', () => {
  let campaign: CampaignClient;
  let platform: TestPlatform;
  let NLWS: Nlws;
  let cloud: CampaignClient['cloud'];

  const createWorkflow = (activities: string) => writeWorkflow(campaign, activities, 'WKFJS');
  const engineState = (internalName: string) => readEngineState(campaign, internalName);
  const waitForState = (internalName: string, state: number, timeoutMs?: number) => waitForWorkflowState(campaign, internalName, state, timeoutMs);
  const cloudRecipients = (emailLike: string) =>
    cloud
      .query<{ email: string; last_name: string | null; black_list: boolean }>(
        'SELECT email, last_name, black_list FROM nms_recipient WHERE email LIKE $1 ORDER BY email',
        [emailLike],
      )
      .then((r) => r.rows);

  beforeAll(async () => {
    campaign = await startCampaignClient({ envFor: { 'cloud-executor': ENGINE_ENV } });
    ({ platform, NLWS, cloud } = campaign);
  });

  afterAll(async () => {
    await campaign?.stop();
  });

  it('when a JavaScript activity queries, writes, ingests, subscribes, reads an option, signals another workflow and logs, then each call reaches its data and the workflow finishes', async () => {
    const tag = uniqueId('js')
      .replace(/[^A-Za-z0-9]/g, '')
      .toLowerCase();
    const email = `${tag}@example.com`;
    await NLWS.xtkSession.write({ xtkschema: 'nms:recipient', id: randomUUID(), email, lastName: 'Before' });
    const receiver = await createWorkflow(
      '<start name="start"><transition target="signal"/></start><external name="signal"><transition target="end"/></external><end name="end"/>',
    );
    await NLWS.xtkWorkflow.start(receiver);
    await waitForState(receiver, 11);

    const script = `
var res = xtk.queryDef.create({ queryDef: { schema: "nms:recipient", operation: "select",
  select: { node: [{ expr: "@email" }, { expr: "@lastName" }] }, where: { condition: [{ expr: "@email = '${email}'" }] } } }).ExecuteQuery();
logInfo("found", res.recipient.length, res.recipient[0].lastName);
xtk.session.Write({ xtkschema: "nms:recipient", _key: "@email", email: "${email}", lastName: "After" });
var option = xtk.queryDef.create('<queryDef schema="xtk:option" operation="get"><select><node expr="@name"/></select><where><condition expr="@name = &apos;XtkDatabaseId&apos;"/></where></queryDef>').ExecuteQuery();
try {
  xtk.session.Write({ xtkschema: "nms:nothing", a: 1 });
} catch (e) {
  logWarning("caught", e.code);
}
task.vars.stagedId = xtk.session.Ingest('<recipientStg xtkschema="nms:recipientStg" email="staged-${email}" lastName="Staged"/>');
nms.subscription.Subscribe("newsletter", { _key: "@email", email: "sub-${email}", firstName: "Sub" }, true);
xtk.workflow.PostEvent("${receiver}", "signal", "", { from: "js", count: res.recipient.length }, true);
instance.vars.found = res.recipient.length;
instance.vars.databaseOption = option.name;
vars.lastName = "After";
logInfo("database id option:", getOption("XtkDatabaseId") !== "");`;
    const name = await createWorkflow(
      `<start name="start"><transition target="work"/></start>${js('work', script, '<transition target="end"/>')}<end name="end"/>`,
    );
    await NLWS.xtkWorkflow.start(name);
    expect(await waitForState(name, 20)).toMatchObject({ failed: false, status: 'Finished' });

    const state = await engineState(name);
    expect(state.variables).toEqual({ found: 1, databaseOption: 'XtkDatabaseId' });
    expect(state.tasks.map((t) => [t.activity, t.status])).toEqual([
      ['start', 'done'],
      ['work', 'done'],
      ['end', 'done'],
    ]);
    expect(state.tasks[2]!.vars).toEqual({ lastName: 'After' });
    expect(state.tasks[1]!.task_vars).toEqual({ stagedId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const lines = state.log.filter((l) => l.activity === 'work').map((l) => `${l.level} ${l.message}`);
    expect(lines).toEqual([
      'info found 1 Before',
      'warning caught XTK-170101',
      'info database id option: true',
      expect.stringMatching(/^info script done \(\d+ ms of CPU\)$/),
    ]);
    // The cloud write is there at once; the staged ones once staging-sync has applied them.
    expect(await cloudRecipients(email)).toEqual([expect.objectContaining({ email, last_name: 'After' })]);
    await NLWS.nmsReplicationStrategy.StartReplicateStagingData('nms:recipient');
    await NLWS.nmsReplicationStrategy.StartReplicateStagingData('nms:subscription');
    expect(await cloudRecipients(`staged-${email}`)).toEqual([expect.objectContaining({ last_name: 'Staged' })]);
    expect(await cloudRecipients(`sub-${email}`)).toHaveLength(1);
    // The signal reached the other workflow, with its variables.
    await waitForState(receiver, 20);
    expect((await engineState(receiver)).tasks.find((t) => t.activity === 'end')!.vars).toEqual({ from: 'js', count: '1' });
  });

  it('when a script writes operators or options, directly or hidden in a collection, then every write is refused with XSV-350013 and no rights change', async () => {
    const script = `
var codes = [];
function attempt(write) { try { write(); codes.push("ok"); } catch (e) { codes.push(e.code); } }
attempt(function () { xtk.session.Write({ xtkschema: "xtk:operator", _key: "@name", name: "mc", rights: "admin" }); });
attempt(function () { xtk.session.WriteCollection('<service-collection xtkschema="nms:service"><service name="wkfAllowed" label="x"/><operator xtkschema="xtk:operator" _key="@name" name="mc" rights="admin"/></service-collection>'); });
attempt(function () { xtk.session.Write({ xtkschema: "xtk:option", name: "WkfOption", stringValue: "y" }); });
logInfo(codes.join(","));`;
    const name = await createWorkflow(
      `<start name="start"><transition target="work"/></start>${js('work', script, '<transition target="end"/>')}<end name="end"/>`,
    );
    await NLWS.xtkWorkflow.start(name);
    expect(await waitForState(name, 20)).toMatchObject({ failed: false });
    const lines = (await engineState(name)).log.filter((l) => l.activity === 'work').map((l) => `${l.level} ${l.message}`);
    expect(lines[0]).toBe('info XSV-350013,XSV-350013,XSV-350013');
    const rights = await NLWS.xtkQueryDef
      .create({ schema: 'xtk:operator', operation: 'get', select: { node: [{ expr: '@rights' }] }, where: { condition: [{ expr: "@name = 'mc'" }] } })
      .executeQuery();
    expect(rights.rights).toBe('messageCenter');
  });

  it('when a script runs away, then it is stopped at its CPU limit, the workflow goes to error with the line in its log, and the engine runs other workflows meanwhile and after', async () => {
    const runaway = await createWorkflow(
      `<start name="start"><transition target="spin"/></start>${js('spin', 'var n = 0;\nlogInfo("spinning");\nwhile (true) {\n  n++;\n}', '<transition target="end"/>')}<end name="end"/>`,
    );
    const other = await createWorkflow(
      `<start name="start"><transition target="work"/></start>${js('work', 'instance.vars.ok = "yes";', '<transition target="end"/>')}<end name="end"/>`,
    );
    const startedAt = Date.now();
    await NLWS.xtkWorkflow.start(runaway);
    await NLWS.xtkWorkflow.start(other); // while the runaway script spins
    expect(await waitForState(other, 20)).toMatchObject({ failed: false });

    const failed = await waitForState(runaway, 13);
    expect(Date.now() - startedAt).toBeLessThan(CPU_LIMIT_MS + 15_000);
    expect(failed.failed).toBe(true);
    expect(failed.status).toMatch(
      /^Error: WKF-560031 JavaScript activity 'spin': the script used more than its CPU time limit of 1000 ms and was stopped \(line 3\)/,
    );
    const state = await engineState(runaway);
    expect(state.log.filter((l) => l.activity === 'spin').map((l) => `${l.level} ${l.message}`)).toEqual([
      'info spinning',
      `error WKF-560031 JavaScript activity 'spin': the script used more than its CPU time limit of ${CPU_LIMIT_MS} ms and was stopped (line 3)`,
    ]);
    // The failed task is kept as failed; Resume would run the activity again.
    expect(state.tasks.map((t) => [t.activity, t.status])).toEqual([
      ['start', 'done'],
      ['spin', 'failed'],
      ['spin', 'pending'],
    ]);

    // The engine is still there for the next workflow.
    const after = await createWorkflow(
      `<start name="start"><transition target="work"/></start>${js('work', 'vars.done = 1 + 1;', '<transition target="end"/>')}<end name="end"/>`,
    );
    await NLWS.xtkWorkflow.start(after);
    expect(await waitForState(after, 20)).toMatchObject({ failed: false, status: 'Finished' });
    expect((await engineState(after)).tasks.find((t) => t.activity === 'end')!.vars).toEqual({ done: 2 });
    await NLWS.xtkWorkflow.stop(runaway);
    await waitForState(runaway, 20);
  });

  it('when a script has an error, then the log gives its line; an error transition takes the branch instead of suspending the workflow', async () => {
    const broken = await createWorkflow(
      `<start name="start"><transition target="bad"/></start>${js('bad', '\nvar o = {};\nvar x = o.missing.field;', '<transition target="end"/>')}<end name="end"/>`,
    );
    await NLWS.xtkWorkflow.start(broken);
    expect((await waitForState(broken, 13)).status).toBe(
      "Error: WKF-560030 JavaScript activity 'bad': TypeError: cannot read property 'field' of undefined (line 3)",
    );

    const handled = await createWorkflow(
      `<start name="start"><transition target="bad"/></start>${js('bad', 'require("fs");', '<transition name="ok" target="end"/><transition name="error" target="recover"/>')}` +
        `${js('recover', 'vars.recovered = true;', '<transition target="end"/>')}<end name="end"/>`,
    );
    await NLWS.xtkWorkflow.start(handled);
    expect(await waitForState(handled, 20)).toMatchObject({ failed: false, status: 'Finished' });
    const state = await engineState(handled);
    expect(state.tasks.map((t) => [t.activity, t.status])).toEqual([
      ['start', 'done'],
      ['bad', 'failed'],
      ['recover', 'done'],
      ['end', 'done'],
    ]);
    expect(state.log.find((l) => l.activity === 'bad')!.message).toBe(
      "WKF-560030 JavaScript activity 'bad': ReferenceError: 'require' is not defined (line 1); following its error transition",
    );
    await NLWS.xtkWorkflow.stop(broken);
  });

  it('when an async script fails after an await or runs away in a promise callback, then its transition does not fire: the workflow goes to error with the code, or takes its error transition', async () => {
    const thrown = await createWorkflow(
      `<start name="start"><transition target="work"/></start>${js('work', "vars.sent = 1;\n(async () => {\n  await Promise.resolve();\n  throw new Error('boom');\n})();", '<transition target="end"/>')}<end name="end"/>`,
    );
    const spinning = await createWorkflow(
      `<start name="start"><transition target="spin"/></start>${js('spin', 'vars.sent = 1;\n(async () => {\n  await null;\n  while (true) {}\n})();', '<transition name="ok" target="end"/><transition name="error" target="recover"/>')}` +
        `${js('recover', 'vars.recovered = true;', '<transition target="end"/>')}<end name="end"/>`,
    );
    await NLWS.xtkWorkflow.start(thrown);
    await NLWS.xtkWorkflow.start(spinning);

    expect((await waitForState(thrown, 13)).status).toBe("Error: WKF-560030 JavaScript activity 'work': Error: boom (unhandled promise rejection) (line 4)");
    expect((await engineState(thrown)).tasks.map((t) => [t.activity, t.status])).toEqual([
      ['start', 'done'],
      ['work', 'failed'],
      ['work', 'pending'],
    ]);

    expect(await waitForState(spinning, 20)).toMatchObject({ failed: false, status: 'Finished' });
    const state = await engineState(spinning);
    expect(state.tasks.map((t) => [t.activity, t.status])).toEqual([
      ['start', 'done'],
      ['spin', 'failed'],
      ['recover', 'done'],
      ['end', 'done'],
    ]);
    // The error transition carries the inbound variables: nothing the stopped script set goes out.
    expect(state.tasks[3]!.vars).toEqual({ recovered: true });
    expect(state.log.filter((l) => l.activity === 'spin').map((l) => `${l.level} ${l.message}`)).toEqual([
      `warning WKF-560031 JavaScript activity 'spin': the script used more than its CPU time limit of ${CPU_LIMIT_MS} ms and was stopped (line 4); following its error transition`,
    ]);
    await NLWS.xtkWorkflow.stop(thrown);
  });

  it('when a query activity targets recipients, then the next JavaScript activity reads vars.recCount and an update activity writes the population', async () => {
    const tag = uniqueId('q')
      .replace(/[^A-Za-z0-9]/g, '')
      .toLowerCase();
    for (const n of [1, 2, 3])
      await NLWS.xtkSession.write({ xtkschema: 'nms:recipient', id: randomUUID(), email: `${tag}-${n}@example.com`, lastName: 'Original' });
    await NLWS.xtkSession.write({ xtkschema: 'nms:recipient', id: randomUUID(), email: `other-${tag}@example.com`, lastName: 'Original' });
    const name = await createWorkflow(
      '<start name="start"><transition target="target"/></start>' +
        `<query name="target" schema="nms:recipient"><where><condition expr="@email LIKE '${tag}-%'"/></where><transitions><result name="result" target="count"/></transitions></query>` +
        js(
          'count',
          'logInfo("recCount", vars.recCount, vars.targetSchema);\ninstance.vars.count = vars.recCount;\nvars.next = vars.recCount * 2;',
          '<transition target="update"/>',
        ) +
        '<updateData name="update" schema="nms:recipient" mode="write" operation="update"><field xpath="@lastName" value="Updated $(vars/@next)"/><transition target="end"/></updateData>' +
        '<end name="end"/>',
    );
    await NLWS.xtkWorkflow.start(name);
    expect(await waitForState(name, 20)).toMatchObject({ failed: false, status: 'Finished' });
    const state = await engineState(name);
    expect(state.variables).toEqual({ count: 3 });
    const table = state.tasks.find((t) => t.activity === 'target')!.task_vars['tableName'];
    expect(table).toMatch(/^wkf_wt_\d+$/);
    expect(state.log.filter((l) => l.activity !== null).map((l) => `${l.activity}: ${l.message}`)).toEqual([
      `target: 3 nms:recipient records targeted into working table ${table}`,
      'count: recCount 3 nms:recipient',
      expect.stringMatching(/^count: script done/),
      'update: 3 nms:recipient records written (write, update)',
      'end: end of branch',
    ]);
    expect(state.tasks.find((t) => t.activity === 'end')!.vars).toMatchObject({ recCount: 3, next: 6, tableName: table, targetSchema: 'nms:recipient' });
    expect((await cloudRecipients(`%${tag}%`)).map((r) => [r.email, r.last_name])).toEqual([
      [`other-${tag}@example.com`, 'Original'],
      [`${tag}-1@example.com`, 'Updated 6'],
      [`${tag}-2@example.com`, 'Updated 6'],
      [`${tag}-3@example.com`, 'Updated 6'],
    ]);
    // The working table went with the run.
    expect((await cloud.query('SELECT to_regclass($1) AS t', [table])).rows[0].t).toBeNull();
    expect((await cloud.query('SELECT count(*)::int AS n FROM cap_wkf_worktable WHERE workflow_id = $1', [state.workflowId])).rows[0].n).toBe(0);
  });

  it('when update data activities use IngestExt on the population and Ingest on listed records, then the changes are staged and reach the cloud DB', async () => {
    const tag = uniqueId('g')
      .replace(/[^A-Za-z0-9]/g, '')
      .toLowerCase();
    for (const n of [1, 2])
      await NLWS.xtkSession.write({ xtkschema: 'nms:recipient', id: randomUUID(), email: `${tag}-${n}@example.com`, lastName: 'Original' });
    const name = await createWorkflow(
      '<start name="start"><transition target="target"/></start>' +
        `<query name="target" schema="nms:recipient"><where><condition expr="@email LIKE '${tag}-%'"/></where><transition target="stage"/></query>` +
        '<updateData name="stage" schema="nms:recipientStg" mode="ingestExt" operation="update"><field xpath="@lastName" value="Staged $(instance/vars/@batch)"/><transition target="load"/></updateData>' +
        `<ingest name="load"><data><recipientStg xtkschema="nms:recipientStg" email="new-${tag}@example.com" lastName="From $(vars/@recCount) staged"/></data><transition target="end"/></ingest>` +
        '<end name="end"/>',
    );
    await NLWS.xtkWorkflow.startWithParameters(name, { batch: 'B7' });
    expect(await waitForState(name, 20)).toMatchObject({ failed: false, status: 'Finished' });
    const state = await engineState(name);
    expect(state.log.filter((l) => l.activity === 'stage' || l.activity === 'load').map((l) => l.message)).toEqual([
      '2 nms:recipientStg records written (ingestExt, update)',
      '1 record written (ingest)',
    ]);
    await NLWS.nmsReplicationStrategy.StartReplicateStagingData('nms:recipient');
    expect((await cloudRecipients(`%${tag}%`)).map((r) => [r.email, r.last_name])).toEqual([
      [`${tag}-1@example.com`, 'Staged B7'],
      [`${tag}-2@example.com`, 'Staged B7'],
      [`new-${tag}@example.com`, 'From 2 staged'],
    ]);
  });

  it('when a query activity names a local schema or a bad condition, then Start refuses the definition with WKF-560014', async () => {
    const local = await createWorkflow(
      '<start name="start"><transition target="q"/></start><query name="q" schema="xtk:option"><transition target="end"/></query><end name="end"/>',
    );
    await expect(NLWS.xtkWorkflow.start(local)).rejects.toMatchObject({
      errorCode: 'WKF-560014',
      faultString: expect.stringContaining('xtk:option is not a cloud schema'),
    });
    const bad = await createWorkflow(
      '<start name="start"><transition target="q"/></start><query name="q" schema="nms:recipient"><where><condition expr="@shoeSize = 3"/></where><transition target="end"/></query><end name="end"/>',
    );
    await expect(NLWS.xtkWorkflow.start(bad)).rejects.toMatchObject({ errorCode: 'WKF-560014', faultString: expect.stringContaining('shoeSize') });
  });

  // Last: it replaces the platform's cloud-executor by a new replica.
  it('when the engine is killed while a script runs, then another replica runs the activity again from the start and the workflow finishes once', async () => {
    const script =
      'instance.vars.attempts = (instance.vars.attempts || 0) + 1;\nfor (var i = 0; i < 300; i++) getOption("XtkDatabaseId");\nvars.finished = true;';
    const name = await createWorkflow(
      `<start name="start"><transition target="slow"/></start>${js('slow', script, '<transition target="end"/>')}<end name="end"/>`,
    );
    const first = platform.procs.get('cloud-executor')!;
    await NLWS.xtkWorkflow.start(name);
    await waitFor('the script to be running', async () => (await engineState(name)).tasks.some((t) => t.activity === 'slow' && t.status === 'running'), {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    first.signal('SIGKILL');
    await first.exited;
    await platform.replace('cloud-executor'); // stopped with the platform
    expect(await waitForState(name, 20, 60_000)).toMatchObject({ failed: false, status: 'Finished' });
    const state = await engineState(name);
    // The killed attempt committed nothing: one increment, from the attempt that finished.
    expect(state.variables).toEqual({ attempts: 1 });
    expect(state.tasks.map((t) => [t.activity, t.status])).toEqual([
      ['start', 'done'],
      ['slow', 'done'],
      ['end', 'done'],
    ]);
    expect(state.tasks[2]!.vars).toEqual({ finished: true });
    expect(state.log.filter((l) => l.activity === 'slow').map((l) => l.message)).toEqual([
      'the engine running this activity stopped before it finished; it runs again (attempt 2)',
      expect.stringMatching(/^script done/),
    ]);
  });
});
