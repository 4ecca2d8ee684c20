import { Writable } from 'node:stream';
import type pg from 'pg';
import { SERVICES, TOPICS } from '@cap/contracts';
import { createMessaging, RETRY_PROFILES, startRpcClient, type Messaging, type RpcClient } from '@cap/platform-kafka';
import { createLogger } from '@cap/platform-logger';
import { failure, sdkLogon, startTestPlatform, testEndpoints, uniqueId, waitFor, withDb, type SdkClient, type TestPlatform } from '@cap/platform-testing';

interface WorkflowReport {
  workflowId: string;
  runId: number;
  state: number;
  failed: boolean;
  status: string | null;
  variables: Record<string, string>;
  tasks: { activity: string; type: string; status: string; vars: Record<string, string> }[];
  log: { level: string; activity: string | null; message: string; runId: number }[];
}

const quiet = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

// Definitions used below (the activities memo of xtk:workflow).
const SIGNAL_FLOW =
  '<activities><start name="start"><transition target="signal"/></start><external name="signal"><transition target="end"/></external><end name="end"/></activities>';
const TEST_FLOW =
  '<activities><start name="start"><transition target="check"/></start>' +
  '<test name="check" condition="instance.vars.mode == \'full\' and instance.vars.batch > 10"><transition name="true" target="fullPath"/><transition name="false" target="end"/></test>' +
  '<external name="fullPath"><transition target="end"/></external><end name="end"/></activities>';
const JOIN_FLOW =
  '<activities><start name="start"><transition target="fork"/></start><fork name="fork"><transition target="pause"/><transition target="signal"/></fork>' +
  '<wait name="pause" delay="1"><transition target="join"/></wait><external name="signal"><transition target="join"/></external>' +
  '<andjoin name="join"><transition target="end"/></andjoin><end name="end"/></activities>';

/**
 * xtk:workflow commands end to end: the SDK → gateway → cloud-executor's engine (durable state in the cloud
 * DB) → workflow.state.changed.v1 → local-store → xtk:workflow, read back with queryDef.
 */
describe('workflows through the unmodified @adobe/acc-js-sdk', () => {
  let platform: TestPlatform;
  let NLWS: SdkClient;
  let messaging: Messaging;
  let rpc: RpcClient;

  const createWorkflow = async (activities: string): Promise<string> => {
    const internalName = uniqueId('WKF').replace(/[^A-Za-z0-9_]/g, '_');
    await NLWS.xtkSession.write({ xtkschema: 'xtk:workflow', internalName, label: `test ${internalName}`, $activities: activities });
    return internalName;
  };
  const workflowRow = async (internalName: string): Promise<{ id: string; state: number; failed: boolean; status: string }> => {
    const row = await NLWS.xtkQueryDef
      .create({
        schema: 'xtk:workflow',
        operation: 'get',
        select: { node: [{ expr: '@id' }, { expr: '@state' }, { expr: '@failed' }, { expr: '@status' }] },
        where: { condition: [{ expr: `@internalName='${internalName}'` }] },
      })
      .executeQuery();
    return {
      id: String(row.id),
      state: Number(row.state),
      failed: row.failed === true || row.failed === '1' || row.failed === 'true',
      status: row.status ?? '',
    };
  };
  /** Polls queryDef on xtk:workflow until @state is `state` (state changes arrive asynchronously). */
  const waitForState = (internalName: string, state: number, timeoutMs = 20_000) =>
    waitFor(
      `workflow ${internalName} to reach state ${state}`,
      async () => {
        const row = await workflowRow(internalName);
        return row.state === state ? row : undefined;
      },
      { timeoutMs, intervalMs: 100 },
    );
  const cloudDb = <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => withDb(platform.cloudDb.url, fn);
  /** The engine's durable state, read from the cloud DB: the instance, its current run's tasks, its log. */
  const report = (internalName: string): Promise<WorkflowReport> =>
    cloudDb(async (c) => {
      const inst = await c.query<{
        workflow_id: string;
        run_id: number;
        state: number;
        failed: boolean;
        status: string | null;
        variables: Record<string, string>;
      }>('SELECT workflow_id, run_id, state, failed, status, variables FROM cap_wkf_instance WHERE internal_name = $1', [internalName]);
      const i = inst.rows[0];
      if (!i) throw new Error(`workflow ${internalName} never ran`);
      const tasks = await c.query('SELECT activity, activity_type AS type, status, vars FROM cap_wkf_task WHERE workflow_id = $1 AND run_id = $2 ORDER BY id', [
        i.workflow_id,
        i.run_id,
      ]);
      const log = await c.query('SELECT level, activity, message, run_id AS "runId" FROM cap_wkf_log WHERE workflow_id = $1 ORDER BY id', [i.workflow_id]);
      return {
        workflowId: i.workflow_id,
        runId: i.run_id,
        state: i.state,
        failed: i.failed,
        status: i.status,
        variables: i.variables,
        tasks: tasks.rows,
        log: log.rows,
      } as WorkflowReport;
    });
  /** workflow.log over Kafka RPC, as an operator tool would call it. */
  const workflowLog = (workflowId: string) =>
    rpc.request<WorkflowReport>({ service: SERVICES.cloudExecutor, topic: TOPICS.cloudExecutorRequests }, 'workflow.log', { workflowId });
  /** Polls the engine's state until `ready` holds (PostEvent is asynchronous: its signal is delivered after the reply). */
  const waitForReport = (internalName: string, what: string, ready: (r: WorkflowReport) => boolean) =>
    waitFor(
      `workflow ${internalName}: ${what}`,
      async () => {
        const r = await report(internalName);
        return ready(r) ? r : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  /** xtk:workflow#PostEvent as raw SOAP (what the SDK cannot send: a wrong type, no session); the fault code or 'ok'. */
  const rawPostEvent = async (session: { token: string; security?: string }, args: string): Promise<string> => {
    const res = await fetch(`${platform.gatewayUrl}/nl/jsp/soaprouter.jsp`, {
      method: 'POST',
      headers: {
        'content-type': 'text/xml; charset=utf-8',
        SOAPAction: 'xtk:workflow#PostEvent',
        ...(session.security ? { 'X-Security-Token': session.security } : {}),
      },
      body:
        '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><m:PostEvent xmlns:m="urn:xtk:workflow">' +
        `<sessiontoken>${session.token}</sessiontoken>${args}</m:PostEvent></SOAP-ENV:Body></SOAP-ENV:Envelope>`,
    });
    const text = await res.text();
    return /\b[A-Z]{3}-\d{6}\b/.exec(text)?.[0] ?? (res.status === 200 && text.includes('PostEventResponse') ? 'ok' : `${res.status} ${text.slice(0, 200)}`);
  };

  beforeAll(async () => {
    platform = await startTestPlatform();
    const client = await sdkLogon(platform.gatewayUrl, 'admin', 'admin');
    NLWS = client.NLWS;
    messaging = createMessaging({
      brokers: testEndpoints().kafkaBrokers,
      clientId: uniqueId('probe'),
      topicPrefix: platform.topicPrefix,
      logger: quiet,
      retry: RETRY_PROFILES.fast,
    });
    rpc = await startRpcClient(messaging, { instanceId: uniqueId('probe'), defaultTimeoutMs: 10_000 });
    // One probe for the file, warmed up here: its first reply (retried until cloud-executor's reply producer
    // knows the brand-new reply topic) is consumed inside this hook, where kafkajs may load the modules it
    // requires lazily; Jest refuses module loading outside test code and the consumer would crash between tests.
    await waitFor(
      'cloud-executor to answer the probe',
      () => rpc.request({ service: SERVICES.cloudExecutor, topic: TOPICS.cloudExecutorRequests }, 'system.ping', null, { timeoutMs: 2_000 }).then(() => true),
      { timeoutMs: 30_000 },
    );
  });

  afterAll(async () => {
    await rpc?.stop().catch(() => undefined);
    await messaging?.close();
    await platform?.stop();
  });

  it('when WKF1 is started by its internal name, then queryDef on xtk:workflow shows @state 11; a second Start (by numeric id) is refused with WKF-560023', async () => {
    expect(await NLWS.xtkWorkflow.start('WKF1')).toBeNull();
    const started = await waitForState('WKF1', 11);
    expect(started).toMatchObject({ failed: false, status: 'Started' });
    const again = await failure(NLWS.xtkWorkflow.start(Number(started.id)));
    expect(again).toMatchObject({ statusCode: 500, errorCode: 'WKF-560023' });
    expect(again.faultString).toContain("'WKF1' is already started");
    const engine = await report('WKF1');
    expect(engine.tasks.map((t) => [t.activity, t.status])).toEqual([
      ['start', 'done'],
      ['signal', 'waiting'],
    ]);
  });

  it('when the signal is posted, then its variables travel on; complete=false keeps it waiting, complete=true lets the workflow finish (20)', async () => {
    const name = await createWorkflow(SIGNAL_FLOW);
    await NLWS.xtkWorkflow.start(name);
    await waitForState(name, 11);
    expect(await NLWS.xtkWorkflow.postEvent(name, 'signal', '', { hello: 'world' }, false)).toBeNull();
    let engine = await waitForReport(name, 'the signal delivered', (r) => r.tasks.some((t) => t.activity === 'end'));
    expect(engine.state).toBe(11);
    expect(engine.tasks.map((t) => [t.activity, t.status])).toEqual([
      ['start', 'done'],
      ['signal', 'waiting'],
      ['end', 'done'],
    ]);
    expect(engine.tasks[2]!.vars).toEqual({ hello: 'world' });
    await NLWS.xtkWorkflow.postEvent(name, 'signal', '', { hello: 'again', n: '2' }, true);
    expect(await waitForState(name, 20)).toMatchObject({ failed: false, status: 'Finished' });
    engine = await report(name);
    expect(engine.tasks.filter((t) => t.activity === 'end').map((t) => t.vars)).toEqual([{ hello: 'world' }, { hello: 'again', n: '2' }]);
    expect(engine.log.map((l) => l.message)).toEqual(
      expect.arrayContaining(['signal received with variables hello', 'signal received with variables hello, n (complete)', 'Workflow finished']),
    );
  });

  it('when PostEvent targets a workflow that is not started, or an activity or transition it does not have, then the call returns and the workflow log says why', async () => {
    const name = await createWorkflow(SIGNAL_FLOW);
    // Campaign: the target workflow must be started, otherwise an error is written to its log (not to the caller).
    expect(await NLWS.xtkWorkflow.postEvent(name, 'signal', '', {}, false)).toBeNull();
    const idle = await workflowLog(name);
    expect(idle).toMatchObject({ state: 0, tasks: [] });
    expect(idle.log).toEqual([
      expect.objectContaining({ level: 'error', message: expect.stringMatching(/^signal ignored: WKF-560020 .*is not started \(it is being edited\)/) }),
    ]);
    // No workflow to log on: an unknown workflow is still a fault.
    expect((await failure(NLWS.xtkWorkflow.postEvent('NO_SUCH_WORKFLOW', 'signal', '', {}, false))).errorCode).toBe('WKF-560001');
    expect((await failure(NLWS.xtkWorkflow.start("x' OR '1'='1"))).errorCode).toBe('WKF-560001');

    await NLWS.xtkWorkflow.start(name);
    await waitForState(name, 11);
    expect(await NLWS.xtkWorkflow.postEvent(name, 'end', '', {}, false)).toBeNull();
    expect(await NLWS.xtkWorkflow.postEvent(name, 'nothing', '', {}, false)).toBeNull();
    expect(await NLWS.xtkWorkflow.postEvent(name, 'signal', 'ok', {}, false)).toBeNull();
    const engine = await workflowLog(name);
    expect(engine.tasks.find((t) => t.activity === 'signal')!.status).toBe('waiting');
    expect(engine.log.filter((l) => l.level === 'warning').map((l) => l.message)).toEqual([
      expect.stringMatching(/^signal ignored: WKF-560021 .*it is a end activity, not an external signal/),
      expect.stringMatching(/^signal ignored: WKF-560021 .*the workflow has no such activity/),
      expect.stringMatching(/^signal ignored: WKF-560022 .*its transitions are unnamed/),
    ]);
    await NLWS.xtkWorkflow.stop(name);
  });

  it('when a signal task is completed (complete=true), then a later PostEvent to it is ignored and written to the log', async () => {
    // The wait keeps the run going after the signal task is complete.
    const name = await createWorkflow(
      '<activities><start name="start"><transition target="fork"/></start><fork name="fork"><transition target="signal"/><transition target="pause"/></fork>' +
        '<external name="signal"><transition target="end"/></external><wait name="pause" delay="600"><transition target="end"/></wait><end name="end"/></activities>',
    );
    await NLWS.xtkWorkflow.start(name);
    await waitForState(name, 11);
    await NLWS.xtkWorkflow.postEvent(name, 'signal', '', { n: '1' }, true);
    await NLWS.xtkWorkflow.postEvent(name, 'signal', '', { n: '2' }, true);
    const engine = await waitForReport(name, 'the second signal handled', (r) => r.log.some((l) => l.message.startsWith('signal ignored')));
    expect(engine.state).toBe(11);
    expect(engine.tasks.filter((t) => t.activity === 'end').map((t) => t.vars)).toEqual([{ n: '1' }]);
    expect(engine.log.find((l) => l.message.startsWith('signal ignored'))).toMatchObject({
      level: 'warning',
      activity: 'signal',
      message: expect.stringMatching(/WKF-560021 .*its signal task is complete/),
    });
    await NLWS.xtkWorkflow.stop(name);
  });

  it('when PostEvent has oversized or mistyped parameters, no session or no right, then it gets a Campaign fault, and a good signal still goes through', async () => {
    const name = await createWorkflow(SIGNAL_FLOW);
    await NLWS.xtkWorkflow.start(name);
    await waitForState(name, 11);
    const refused = async (p: Promise<unknown>) => (await failure(p)).errorCode;
    expect(await refused(NLWS.xtkWorkflow.postEvent(name, 'a'.repeat(201), '', {}, false))).toBe('SOP-330008');
    expect(await refused(NLWS.xtkWorkflow.postEvent('W'.repeat(201), 'signal', '', {}, false))).toBe('SOP-330008');
    expect(await refused(NLWS.xtkWorkflow.postEvent(name, 'signal', '', { big: 'x'.repeat(64 * 1024 + 1) }, false))).toBe('SOP-330008');
    const many = Object.fromEntries(Array.from({ length: 501 }, (_, i) => [`v${i}`, '1']));
    expect(await refused(NLWS.xtkWorkflow.postEvent(name, 'signal', '', many, false))).toBe('SOP-330008');
    expect(await refused(NLWS.xtkWorkflow.postEvent(name, '', '', {}, false))).toBe('SOP-330008');
    expect((await failure(NLWS.xtkWorkflow.start(''))).errorCode).toBe('SOP-330008');
    const client = await sdkLogon(platform.gatewayUrl, 'admin', 'admin');
    const session = { token: client._sessionToken as string, security: client._securityToken as string };
    expect(await rawPostEvent(session, `<workflowId>${name}</workflowId><activity>signal</activity><transition/><parameters/><complete>maybe</complete>`)).toBe(
      'SOP-330008',
    );
    expect(
      await rawPostEvent({ token: '' }, `<workflowId>${name}</workflowId><activity>signal</activity><transition/><parameters/><complete>true</complete>`),
    ).toBe('XSV-350008');
    // Operators need the workflow right (mc has only messageCenter).
    const mc = await sdkLogon(platform.gatewayUrl, 'mc', 'mc');
    expect(await refused(mc.NLWS.xtkWorkflow.postEvent(name, 'signal', '', {}, true))).toBe('XSV-350013');
    expect(await refused(mc.NLWS.xtkWorkflow.stop(name))).toBe('XSV-350013');
    // Nothing of it reached the workflow; a good signal does.
    expect((await report(name)).tasks.map((t) => [t.activity, t.status])).toEqual([
      ['start', 'done'],
      ['signal', 'waiting'],
    ]);
    expect(await rawPostEvent(session, `<workflowId>${name}</workflowId><activity>signal</activity><transition/><parameters/><complete>true</complete>`)).toBe(
      'ok',
    );
    expect(await waitForState(name, 20)).toMatchObject({ status: 'Finished' });
  });

  it('when a workflow is paused, then a signal waits for Resume; Stop finishes it and Start begins a new run', async () => {
    const name = await createWorkflow(SIGNAL_FLOW);
    await NLWS.xtkWorkflow.start(name);
    await NLWS.xtkWorkflow.pause(name);
    await waitForState(name, 13);
    await NLWS.xtkWorkflow.pause(name); // already paused: nothing to do
    expect(await NLWS.xtkWorkflow.postEvent(name, 'signal', '', { queued: 'yes' }, true)).toBeNull();
    let engine = await report(name);
    expect(engine.state).toBe(13);
    expect(engine.log.map((l) => l.message)).toContain('signal queued: the workflow is paused');
    expect(engine.tasks.find((t) => t.activity === 'signal')!.status).toBe('waiting');
    await NLWS.xtkWorkflow.resume(name);
    expect(await waitForState(name, 20)).toMatchObject({ status: 'Finished' });
    engine = await report(name);
    expect(engine.tasks.find((t) => t.activity === 'end')!.vars).toEqual({ queued: 'yes' });

    await NLWS.xtkWorkflow.start(name); // a finished workflow starts again: run 2
    await waitForState(name, 11);
    await NLWS.xtkWorkflow.stop(name);
    expect(await waitForState(name, 20)).toMatchObject({ status: 'Stopped' });
    engine = await report(name);
    expect(engine.runId).toBe(2);
    expect(engine.tasks.map((t) => [t.activity, t.status])).toEqual([
      ['start', 'done'],
      ['signal', 'cancelled'],
    ]);
    expect((await failure(NLWS.xtkWorkflow.pause(name))).errorCode).toBe('WKF-560020');
    expect((await failure(NLWS.xtkWorkflow.resume(name))).errorCode).toBe('WKF-560020');
    await NLWS.xtkWorkflow.stop(name); // stopping a finished workflow: nothing to do
  });

  it('when StartWithParameters is called, then the parameters are instance variables the test activity branches on', async () => {
    const full = await createWorkflow(TEST_FLOW);
    expect(await NLWS.xtkWorkflow.startWithParameters(full, { mode: 'full', batch: '42' })).toBeNull();
    const { id } = await waitForState(full, 11);
    const engine = await workflowLog(full);
    expect(engine).toMatchObject({ workflowId: id, runId: 1, state: 11, failed: false, status: 'Started' });
    expect(engine.variables).toEqual({ mode: 'full', batch: '42' });
    expect(await workflowLog(id)).toEqual(engine); // by numeric id too
    expect(engine.tasks.map((t) => [t.activity, t.status])).toEqual([
      ['start', 'done'],
      ['check', 'done'],
      ['fullPath', 'waiting'],
    ]);
    expect(engine.log.map((l) => l.message)).toContain('Workflow started (run 1) with parameters mode, batch');

    const lite = await createWorkflow(TEST_FLOW);
    await NLWS.xtkWorkflow.startWithParameters(lite, { mode: 'full', batch: '7' });
    await waitForState(lite, 20);
    expect((await report(lite)).log.find((l) => l.activity === 'check')!.message).toBe('condition is false');

    // A plain Start clears the instance variables (Campaign semantics).
    await NLWS.xtkWorkflow.start(lite);
    await waitForState(lite, 20);
    expect((await report(lite)).variables).toEqual({});
    await NLWS.xtkWorkflow.stop(full);
  });

  it('when a definition is invalid, then Start answers a WKF fault that names the problem, and the workflow stays unstarted', async () => {
    const unknownType = await createWorkflow(
      '<activities><start name="start"><transition target="ft"/></start><fileTransfer name="ft"><transition target="end"/></fileTransfer><end name="end"/></activities>',
    );
    const fault = await failure(NLWS.xtkWorkflow.start(unknownType));
    expect(fault).toMatchObject({ statusCode: 500, errorCode: 'WKF-560011' });
    expect(fault.faultString).toContain('unknown activity type <fileTransfer>');
    const dangling = await createWorkflow('<activities><start name="start"><transition target="ghost"/></start><end name="end"/></activities>');
    expect((await failure(NLWS.xtkWorkflow.start(dangling))).faultString).toContain("transition to 'ghost'");
    const noEnd = await createWorkflow('<activities><start name="start"><transition target="signal"/></start><external name="signal"/></activities>');
    expect((await failure(NLWS.xtkWorkflow.startWithParameters(noEnd, { a: '1' }))).errorCode).toBe('WKF-560013');
    expect((await workflowRow(unknownType)).state).toBe(0);
    expect(await workflowLog(dangling)).toMatchObject({ state: 0, runId: 0, tasks: [], log: [] });
    expect(await cloudDb((c) => c.query('SELECT 1 FROM cap_wkf_instance WHERE internal_name = $1', [dangling]))).toMatchObject({ rowCount: 0 });
  });

  it('when a fork leads to a wait and a signal joined by an and-join, then the timer loop wakes the wait and the join completes once', async () => {
    const name = await createWorkflow(JOIN_FLOW);
    await NLWS.xtkWorkflow.start(name);
    await NLWS.xtkWorkflow.postEvent(name, 'signal', '', { from: 'signal' }, true);
    expect((await report(name)).state).toBe(11); // the wait still holds the join
    await waitForState(name, 20);
    const engine = await report(name);
    expect(engine.tasks.filter((t) => t.activity === 'join')).toEqual([expect.objectContaining({ status: 'done', vars: { from: 'signal' } })]);
    expect(engine.tasks.filter((t) => t.activity === 'end')).toHaveLength(1);
  });

  it('when the engine process is killed while workflows wait, then another replica resumes them and no activity runs twice', async () => {
    const first = platform.procs.get('cloud-executor')!;
    await platform.replace('cloud-executor'); // a second replica, stopped with the platform
    const waiting = await createWorkflow(
      '<activities><start name="start"><transition target="fork"/></start><fork name="fork"><transition target="a"/><transition target="b"/></fork>' +
        '<wait name="a" delay="2"><transition target="join"/></wait><wait name="b" delay="2"><transition target="join"/></wait>' +
        '<andjoin name="join"><transition target="end"/></andjoin><end name="end"/></activities>',
    );
    await NLWS.xtkWorkflow.start(waiting);
    await waitForState(waiting, 11);
    first.signal('SIGKILL');
    await first.exited;
    await waitForState(waiting, 20, 30_000);
    const runs = await cloudDb((c) =>
      c.query<{ activity: string; n: string }>(
        `SELECT t.activity, count(*) AS n FROM cap_wkf_task t JOIN cap_wkf_instance i USING (workflow_id) WHERE i.internal_name = $1 GROUP BY t.activity ORDER BY t.activity`,
        [waiting],
      ),
    );
    expect(runs.rows.map((r) => [r.activity, Number(r.n)])).toEqual([
      ['a', 1],
      ['b', 1],
      ['end', 1],
      ['fork', 1],
      ['join', 1],
      ['start', 1],
    ]);
  });
});
