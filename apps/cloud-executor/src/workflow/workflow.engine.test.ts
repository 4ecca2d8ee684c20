import { Writable } from 'node:stream';
import { isAppError } from '@cap/platform-errors';
import { createLogger } from '@cap/platform-logger';
import { waitFor } from '@cap/platform-testing';
import { WORKFLOW_STATE, type Vars } from '@cap/campaign-workflow';
import type { ActivityRunner, WorkItem, WorkOutcome } from './workflow-activity.runner';
import type { WorkflowRecord } from './workflow-definition.source';
import { createFakeWorkflowStore } from './workflow-store.fake';
import { createWorkflowEngine, type WorkflowCommand, type WorkflowEngine } from './workflow.engine';

const logger = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

/** An engine on the in-memory store, with a clock the test moves and scripts the test writes as functions. */
function setup(workflows: Record<string, string>, scripts: Record<string, (work: WorkItem) => WorkOutcome | Promise<WorkOutcome>> = {}) {
  let now = new Date('2025-06-01T08:00:00.000Z');
  const clock = () => new Date(now.getTime());
  const store = createFakeWorkflowStore(clock);
  const records: WorkflowRecord[] = Object.entries(workflows).map(([internalName, activities], i) => ({ id: String(1001 + i), internalName, activities }));
  const published: { workflowId: string; state: number; failed: boolean; status: string | null }[] = [];
  const runs: string[] = [];
  const runner: ActivityRunner = {
    async run(work) {
      runs.push(work.activity.name);
      const script = scripts[work.activity.name];
      return script ? script(work) : { kind: 'done', vars: work.task.vars, logs: [], note: 'done' };
    },
  };
  const engine: WorkflowEngine = createWorkflowEngine({
    store,
    definitions: { find: async (ref) => records.find((r) => ('id' in ref ? r.id === ref.id : r.internalName === ref.internalName)) },
    publisher: {
      async publish(workflowId) {
        const inst = store.instance(workflowId);
        if (!inst || Number(inst.publishedVersion) >= Number(inst.stateVersion)) return;
        published.push({ workflowId, state: inst.state, failed: inst.failed, status: inst.status });
        store.markPublished(workflowId);
      },
    },
    logger,
    limits: { maxTasksPerRun: 50, maxStepsPerDrain: 1_000, taskLeaseMs: 30_000, workConcurrency: 2 },
    runner,
    now: clock,
  });
  const command = (cmd: WorkflowCommand) => engine.command(cmd, { until: clock().getTime() + 5_000 });
  const report = (internalName: string) => engine.report(internalName, 200);
  return {
    engine,
    command,
    report,
    published,
    runs,
    advance: (ms: number) => void (now = new Date(now.getTime() + ms)),
    tick: () => engine.tick({ until: clock().getTime() + 5_000 }),
    messages: async (internalName: string) => (await report(internalName)).log.map((l) => `${l.activity ?? '-'}: ${l.message}`),
    /** Waits until the background runner has settled the workflow in `state`. */
    settled: (internalName: string, state: number) =>
      waitFor(`${internalName} in state ${state}`, async () => (await report(internalName)).state === state, { timeoutMs: 5_000, intervalMs: 5 }),
  };
}

async function fault(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isAppError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a fault');
}

const WAIT = `<activities>
  <start name="start"><transition target="pause"/></start>
  <wait name="pause" delay="30"><transition target="end"/></wait>
  <end name="end"/>
</activities>`;

const SIGNAL = `<activities>
  <start name="start"><transition target="signal"/></start>
  <external name="signal"><transition name="ok" target="check"/><transition name="ko" target="end"/></external>
  <test name="check" condition="vars.count > 10 and instance.vars.mode == 'full'">
    <transition name="true" target="big"/><transition name="false" target="end"/>
  </test>
  <js name="big"><script>instance.vars.size = 'big';</script><transition target="end"/></js>
  <end name="end"/>
</activities>`;

const SCRIPT = `<activities>
  <start name="start"><transition target="script"/></start>
  <js name="script"><script>instance.vars.seen = vars.x;</script><transition target="check"/></js>
  <test name="check" condition="vars.total >= 3"><transition name="true" target="end"/></test>
  <end name="end"/>
</activities>`;

describe('workflow engine (in-memory store, fake clock)', () => {
  it('when a workflow with a wait starts, then it waits until its time has come on the clock, and finishes at the next tick after it', async () => {
    const wf = setup({ WKF_WAIT: WAIT });
    const started = await wf.command({ command: 'start', workflowId: 'WKF_WAIT' });
    expect(started.decision).toBe('newRun');

    let report = await wf.report('WKF_WAIT');
    expect(report).toMatchObject({ state: WORKFLOW_STATE.started, status: 'Started', runId: 1 });
    expect(report.tasks.find((t) => t.activity === 'pause')).toMatchObject({ status: 'waiting', wakeAt: '2025-06-01T08:00:30.000Z' });
    expect(await wf.tick()).toEqual({ busy: false, nextDueAt: new Date('2025-06-01T08:00:30.000Z') });

    wf.advance(29_999);
    await wf.tick();
    expect((await wf.report('WKF_WAIT')).state).toBe(WORKFLOW_STATE.started);

    wf.advance(1);
    expect((await wf.tick()).busy).toBe(true);
    report = await wf.report('WKF_WAIT');
    expect(report).toMatchObject({ state: WORKFLOW_STATE.finished, status: 'Finished' });
    expect(await wf.messages('WKF_WAIT')).toEqual([
      '-: Workflow started (run 1)',
      'pause: waiting until 2025-06-01T08:00:30.000Z',
      'pause: wait over',
      'end: end of branch',
      '-: Workflow finished',
    ]);
    expect(wf.published.map((p) => p.status)).toEqual(['Started', 'Finished']);
  });

  it('when PostEvent carries variables, then the test activity sees them with the instance variables, and a script writes an instance variable', async () => {
    const wf = setup(
      { WKF_SIGNAL: SIGNAL },
      {
        big: (work) => ({
          kind: 'done',
          vars: work.task.vars,
          instanceVars: { set: { size: 'big' }, unset: [] },
          logs: [{ level: 'info', message: 'sized' }],
          note: 'script done',
        }),
      },
    );
    await wf.command({ command: 'startWithParameters', workflowId: 'WKF_SIGNAL', parameters: { mode: 'full' } });
    expect((await wf.report('WKF_SIGNAL')).tasks.find((t) => t.activity === 'signal')?.status).toBe('waiting');

    const posted = await wf.command({
      command: 'postEvent',
      workflowId: 'WKF_SIGNAL',
      activity: 'signal',
      transition: 'ok',
      parameters: { count: '12' },
      complete: true,
    });
    expect(posted.decision).toBe('signalNow');
    await wf.settled('WKF_SIGNAL', WORKFLOW_STATE.finished);

    const report = await wf.report('WKF_SIGNAL');
    expect(report.variables).toEqual({ mode: 'full', size: 'big' });
    expect(wf.runs).toEqual(['big']);
    expect(await wf.messages('WKF_SIGNAL')).toEqual(
      expect.arrayContaining([
        "signal: signal received on transition 'ok' with variables count (complete)",
        'check: condition is true',
        'big: sized',
        'big: script done',
        '-: Workflow finished',
      ]),
    );
  });

  it('when PostEvent names no external activity, an unknown transition or a workflow that is not started, then it returns and the workflow log says why', async () => {
    const wf = setup({ WKF_SIGNAL: SIGNAL, WKF_IDLE: SIGNAL });
    const post = (workflowId: string, activity: string, transition: string) =>
      wf.command({ command: 'postEvent', workflowId, activity, transition, parameters: {}, complete: true });

    expect((await post('WKF_IDLE', 'signal', 'ok')).decision).toBe('signalIgnored');
    expect((await wf.report('WKF_IDLE')).log).toEqual([
      expect.objectContaining({ level: 'error', message: "signal ignored: WKF-560020 The workflow 'WKF_IDLE' is not started (it is being edited)." }),
    ]);
    expect(await fault(post('WKF_NONE', 'signal', 'ok'))).toMatchObject({ code: 'WKF-560001' });

    await wf.command({ command: 'start', workflowId: 'WKF_SIGNAL' });
    expect((await post('WKF_SIGNAL', 'signal', 'maybe')).decision).toBe('signalIgnored');
    expect((await post('WKF_SIGNAL', 'check', '')).decision).toBe('signalIgnored');
    expect((await post('WKF_SIGNAL', 'nothing', '')).decision).toBe('signalIgnored');
    const report = await wf.report('WKF_SIGNAL');
    expect(report.tasks.find((t) => t.activity === 'signal')?.status).toBe('waiting');
    expect(report.log.filter((l) => l.level === 'warning').map((l) => l.message)).toEqual([
      expect.stringMatching(/^signal ignored: WKF-560022 .*its transitions: ok, ko/),
      expect.stringMatching(/^signal ignored: WKF-560021 .*it is a test activity/),
      expect.stringMatching(/^signal ignored: WKF-560021 .*the workflow has no such activity/),
    ]);
  });

  it('when a signal with complete=true has been delivered, then a later signal to the same activity is ignored with a log line', async () => {
    // The wait keeps the run going once the signal task is complete.
    const forked = `<activities>
      <start name="start"><transition target="fork"/></start>
      <fork name="fork"><transition target="signal"/><transition target="pause"/></fork>
      <external name="signal"><transition target="end"/></external>
      <wait name="pause" delay="600"><transition target="end"/></wait>
      <end name="end"/>
    </activities>`;
    const wf = setup({ WKF_FORKED: forked });
    await wf.command({ command: 'start', workflowId: 'WKF_FORKED' });
    const post = (n: string) =>
      wf.command({ command: 'postEvent', workflowId: 'WKF_FORKED', activity: 'signal', transition: '', parameters: { n }, complete: true });
    expect((await post('1')).decision).toBe('signalNow');
    expect((await post('2')).decision).toBe('signalNow'); // queued: delivered in order by the background runner
    await waitFor('both signals handled', async () => (await wf.report('WKF_FORKED')).log.some((l) => l.message.startsWith('signal ignored')), {
      timeoutMs: 5_000,
      intervalMs: 5,
    });
    const report = await wf.report('WKF_FORKED');
    expect(report.state).toBe(WORKFLOW_STATE.started);
    expect(report.tasks.filter((t) => t.activity === 'end').map((t) => t.vars)).toEqual([{ n: '1' }]);
    expect(report.log.find((l) => l.message.startsWith('signal ignored'))).toMatchObject({
      level: 'warning',
      activity: 'signal',
      message: expect.stringMatching(/WKF-560021 .*its signal task is complete/),
    });
  });

  it('when a paused workflow receives a signal, then it is queued and delivered on Resume', async () => {
    const wf = setup({ WKF_SIGNAL: SIGNAL });
    await wf.command({ command: 'start', workflowId: 'WKF_SIGNAL' });
    await wf.command({ command: 'pause', workflowId: 'WKF_SIGNAL' });
    const queued = await wf.command({ command: 'postEvent', workflowId: 'WKF_SIGNAL', activity: 'signal', transition: 'ko', parameters: {}, complete: true });
    expect(queued.decision).toBe('signalQueued');
    expect((await wf.report('WKF_SIGNAL')).state).toBe(WORKFLOW_STATE.paused);

    await wf.command({ command: 'resume', workflowId: 'WKF_SIGNAL' });
    expect((await wf.report('WKF_SIGNAL')).state).toBe(WORKFLOW_STATE.finished);
    expect(await wf.messages('WKF_SIGNAL')).toEqual(
      expect.arrayContaining(['signal: signal queued: the workflow is paused', '-: Workflow resumed', "signal: signal received on transition 'ko' (complete)"]),
    );
    expect(wf.published.map((p) => p.status)).toEqual(['Started', 'Paused', 'Started', 'Finished']);
  });

  it('when a started workflow is stopped, then its waiting tasks are cancelled and it is finished with status Stopped; Start again begins run 2', async () => {
    const wf = setup({ WKF_WAIT: WAIT });
    await wf.command({ command: 'start', workflowId: 'WKF_WAIT' });
    expect(await fault(wf.command({ command: 'start', workflowId: 'WKF_WAIT' }))).toMatchObject({ code: 'WKF-560023' });

    await wf.command({ command: 'stop', workflowId: 'WKF_WAIT' });
    let report = await wf.report('WKF_WAIT');
    expect(report).toMatchObject({ state: WORKFLOW_STATE.finished, status: 'Stopped' });
    expect(report.tasks.find((t) => t.activity === 'pause')?.status).toBe('cancelled');
    expect(await wf.messages('WKF_WAIT')).toContain('-: Workflow stopped (1 active task cancelled)');
    wf.advance(60_000);
    expect(await wf.tick()).toEqual({ busy: false });

    await wf.command({ command: 'start', workflowId: 'WKF_WAIT' });
    report = await wf.report('WKF_WAIT');
    expect(report).toMatchObject({ state: WORKFLOW_STATE.started, runId: 2 });
    expect(report.tasks.map((t) => `${t.activity}:${t.status}`)).toEqual(['start:done', 'pause:waiting']);
  });

  it('when a script fails without an error transition, then the workflow is paused in error, and Resume runs the activity again', async () => {
    let attempt = 0;
    const wf = setup(
      { WKF_SCRIPT: SCRIPT },
      {
        script: (work): WorkOutcome =>
          ++attempt === 1
            ? { kind: 'failed', code: 'WKF-560030', message: 'Error: boom', line: 2, logs: [{ level: 'info', message: 'before the error' }] }
            : { kind: 'done', vars: { ...work.task.vars, total: 3 }, instanceVars: { set: { seen: 'yes' }, unset: [] }, logs: [], note: 'script done' },
      },
    );
    await wf.command({ command: 'start', workflowId: 'WKF_SCRIPT' });
    await wf.settled('WKF_SCRIPT', WORKFLOW_STATE.paused);

    let report = await wf.report('WKF_SCRIPT');
    expect(report).toMatchObject({ failed: true, status: "Error: WKF-560030 JavaScript activity 'script': Error: boom (line 2)" });
    expect(report.tasks.filter((t) => t.activity === 'script').map((t) => t.status)).toEqual(['failed', 'pending']);
    expect(await wf.messages('WKF_SCRIPT')).toEqual(
      expect.arrayContaining(['script: before the error', "script: WKF-560030 JavaScript activity 'script': Error: boom (line 2)"]),
    );

    await wf.command({ command: 'resume', workflowId: 'WKF_SCRIPT' });
    await wf.settled('WKF_SCRIPT', WORKFLOW_STATE.finished);
    report = await wf.report('WKF_SCRIPT');
    expect(report).toMatchObject({ failed: false, status: 'Finished', variables: { seen: 'yes' } });
    expect(wf.runs).toEqual(['script', 'script']);
    expect(wf.published.map((p) => [p.state, p.failed])).toEqual([
      [11, false],
      [13, true],
      [11, false],
      [20, false],
    ]);
  });

  it('when a failing activity has an error transition, then the workflow follows it with a warning instead of going to error', async () => {
    const xml = `<activities>
      <start name="start"><transition target="script"/></start>
      <js name="script"><script>throw new Error('x')</script><transition name="done" target="end"/><transition name="error" target="recover"/></js>
      <fork name="recover"><transition target="end"/></fork>
      <end name="end"/>
    </activities>`;
    const wf = setup({ WKF_ERR: xml }, { script: () => ({ kind: 'failed', code: 'WKF-560030', message: 'Error: x', line: 1, logs: [] }) });
    await wf.command({ command: 'start', workflowId: 'WKF_ERR' });
    await wf.settled('WKF_ERR', WORKFLOW_STATE.finished);
    const report = await wf.report('WKF_ERR');
    expect(report.failed).toBe(false);
    expect(report.log.find((l) => l.activity === 'script')).toMatchObject({
      level: 'warning',
      message: "WKF-560030 JavaScript activity 'script': Error: x (line 1); following its error transition",
    });
    expect(report.tasks.map((t) => t.activity)).toEqual(['start', 'script', 'recover', 'end']);
  });

  it('when a workflow is unknown, never started, or its definition is invalid, then the commands fault with the WKF codes', async () => {
    const wf = setup({ WKF_BAD: '<activities><start name="start"><transition target="nowhere"/></start></activities>', WKF_WAIT: WAIT });
    expect(await fault(wf.command({ command: 'start', workflowId: 'WKF_NONE' }))).toMatchObject({ code: 'WKF-560001' });
    expect(await fault(wf.command({ command: 'start', workflowId: 'bad name!' }))).toMatchObject({ code: 'WKF-560001' });
    expect(await fault(wf.command({ command: 'start', workflowId: 'WKF_BAD' }))).toMatchObject({
      code: 'WKF-560012',
      message: expect.stringContaining("The workflow 'WKF_BAD' cannot be started"),
    });
    expect(await fault(wf.command({ command: 'pause', workflowId: 'WKF_WAIT' }))).toMatchObject({
      code: 'WKF-560020',
      message: expect.stringContaining('being edited'),
    });
    expect((await wf.command({ command: 'stop', workflowId: 'WKF_WAIT' })).decision).toBe('noop');
    expect(await wf.report('1002')).toMatchObject({ internalName: 'WKF_WAIT', state: WORKFLOW_STATE.edition, tasks: [] });
  });

  it('when a run loops without end, then it goes to error once it has created more tasks than allowed', async () => {
    const xml = `<activities>
      <start name="start"><transition target="a"/></start>
      <fork name="a"><transition target="b"/><transition target="end"/></fork>
      <fork name="b"><transition target="a"/></fork>
      <end name="end"/>
    </activities>`;
    const wf = setup({ WKF_LOOP: xml });
    await wf.command({ command: 'start', workflowId: 'WKF_LOOP' });
    const report = await wf.report('WKF_LOOP');
    expect(report).toMatchObject({ state: WORKFLOW_STATE.paused, failed: true, status: expect.stringContaining('the run created more than 50 tasks') });
  });

  it('when StartWithParameters restarts a finished workflow, then the instance variables are replaced by the parameters', async () => {
    const vars = (report: { variables: Vars }) => report.variables;
    const wf = setup({ WKF_SIGNAL: SIGNAL });
    await wf.command({ command: 'startWithParameters', workflowId: 'WKF_SIGNAL', parameters: { mode: 'full', old: '1' } });
    await wf.command({ command: 'stop', workflowId: 'WKF_SIGNAL' });
    await wf.command({ command: 'startWithParameters', workflowId: 'WKF_SIGNAL', parameters: { mode: 'light' } });
    expect(vars(await wf.report('WKF_SIGNAL'))).toEqual({ mode: 'light' });
  });
});
