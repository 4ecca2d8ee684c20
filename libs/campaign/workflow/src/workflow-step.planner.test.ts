import { decideCommand, describeWorkActivity, isJoinComplete, planActivity, planSignal, planWorkDone } from './workflow-step.planner';
import { parseWorkflowDefinition } from './workflow.definition';
import { WORKFLOW_STATE, type CommandName, type WorkflowDefinition, type WorkflowState } from './workflow.model';

function definition(xml: string): WorkflowDefinition {
  const result = parseWorkflowDefinition(xml);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.definition;
}

const BRANCHY = definition(
  '<activities>' +
    '<start name="start"><transition target="fork"/></start>' +
    '<fork name="fork"><transition target="signal"/><transition target="pause"/></fork>' +
    '<external name="signal"><transition name="ok" target="join"/><transition name="ko" target="end"/></external>' +
    '<wait name="pause" delay="2.5"><transition target="join"/></wait>' +
    '<andjoin name="join"><transition target="check"/></andjoin>' +
    '<test name="check" condition="instance.vars.mode == \'full\'"><transition name="true" target="end"/></test>' +
    '<end name="end"/>' +
    '</activities>',
);
const now = new Date('2025-01-01T00:00:00.000Z');
const act = (name: string) => BRANCHY.byName.get(name)!;

describe('workflow state machine', () => {
  const { edition, started, paused, finished } = WORKFLOW_STATE;
  it.each<[WorkflowState, CommandName, string]>([
    [edition, 'start', 'newRun'],
    [finished, 'start', 'newRun'],
    [finished, 'startWithParameters', 'newRun'],
    [started, 'start', 'faultAlreadyStarted'],
    [paused, 'start', 'resume'],
    [started, 'pause', 'pause'],
    [paused, 'pause', 'noop'],
    [finished, 'pause', 'faultNotStarted'],
    [paused, 'resume', 'resume'],
    [started, 'resume', 'noop'],
    [edition, 'resume', 'faultNotStarted'],
    [started, 'stop', 'stop'],
    [paused, 'stop', 'stop'],
    [finished, 'stop', 'noop'],
    [edition, 'stop', 'noop'],
    [started, 'postEvent', 'signalNow'],
    [paused, 'postEvent', 'signalQueued'],
    [finished, 'postEvent', 'faultNotStarted'],
    [edition, 'postEvent', 'faultNotStarted'],
  ])('when the workflow is in state %s and gets %s, then the decision is %s', (state, command, decision) => {
    expect(decideCommand(state, command)).toBe(decision);
  });
});

describe('running activities', () => {
  const input = { vars: { a: '1' }, instanceVars: {}, now };

  it('when start or fork runs, then every transition fires with the event variables', () => {
    expect(planActivity(act('fork'), input)).toEqual({
      kind: 'done',
      fire: [
        { transition: { name: '', target: 'signal', key: 'fork#0' }, vars: { a: '1' } },
        { transition: { name: '', target: 'pause', key: 'fork#1' }, vars: { a: '1' } },
      ],
    });
  });

  it('when an external signal or a wait runs, then the task waits (a wait until now + delay)', () => {
    expect(planActivity(act('signal'), input)).toEqual({ kind: 'waitSignal' });
    expect(planActivity(act('pause'), input)).toEqual({ kind: 'waitUntil', wakeAt: new Date('2025-01-01T00:00:02.500Z') });
  });

  it('when a test runs, then it follows "true", or ends its branch when there is no "false"', () => {
    const yes = planActivity(act('check'), { ...input, instanceVars: { mode: 'full' } });
    expect(yes).toMatchObject({ kind: 'done', fire: [{ transition: { name: 'true', target: 'end' } }], note: 'condition is true' });
    expect(planActivity(act('check'), input)).toEqual({ kind: 'done', fire: [], note: 'condition is false' });
  });

  it('when an end runs, then nothing fires', () => {
    expect(planActivity(act('end'), input)).toMatchObject({ kind: 'done', fire: [] });
  });

  it('when an and-join has received some of its transitions, then it is not complete', () => {
    expect(BRANCHY.joinInputs.get('join')).toEqual(['signal#0', 'pause#0']);
    expect(isJoinComplete(BRANCHY, 'join', ['pause#0'])).toBe(false);
    expect(isJoinComplete(BRANCHY, 'join', ['pause#0', 'signal#0'])).toBe(true);
  });
});

describe('signals', () => {
  it('when PostEvent names no transition, then all fire with the task variables overlaid by the parameters', () => {
    const plan = planSignal(act('signal'), '', { a: '1', b: 'task' }, { b: 'event' });
    expect(plan).toMatchObject({ ok: true, fire: [{ vars: { a: '1', b: 'event' } }, { vars: { a: '1', b: 'event' } }] });
  });

  it('when PostEvent names a transition, then only that one fires; an unknown name is refused with the known ones', () => {
    expect(planSignal(act('signal'), 'ko', {}, {})).toMatchObject({ ok: true, fire: [{ transition: { name: 'ko', target: 'end' } }] });
    expect(planSignal(act('signal'), 'maybe', {}, {})).toEqual({ ok: false, reason: 'unknownTransition', known: ['ok', 'ko'] });
  });

  it('when the activity is not an external signal, then the signal is refused', () => {
    expect(planSignal(act('pause'), '', {}, {})).toEqual({ ok: false, reason: 'notExternal' });
  });

  it('when a work activity is reached, then it is work for the engine; done follows all but "error", failed only "error"', () => {
    const def = definition(
      '<activities><start name="s"><transition target="js"/></start><js name="js"><script>1</script><transition name="ok" target="e"/><transition name="error" target="e"/><transition target="e"/></js><end name="e"/></activities>',
    );
    const js = def.byName.get('js')!;
    expect(planActivity(js, { vars: {}, instanceVars: {}, now: new Date() })).toEqual({ kind: 'work' });
    expect(planWorkDone(js, 'done', { recCount: 3 }).map((f) => [f.transition.name, f.vars])).toEqual([
      ['ok', { recCount: 3 }],
      ['', { recCount: 3 }],
    ]);
    expect(planWorkDone(js, 'failed', {}).map((f) => f.transition.name)).toEqual(['error']);
  });

  it('when a work activity fails or is interrupted, then the log names its code, kind, name and line', () => {
    const def = definition(
      `<activities><start name="start"><transition target="script"/></start><js name="script"><script>x</script><transition target="end"/></js><end name="end"/></activities>`,
    );
    expect(describeWorkActivity(def.byName.get('script')!, 'WKF-560030', 'Error: boom', 3)).toBe(
      "WKF-560030 JavaScript activity 'script': Error: boom (line 3)",
    );
    expect(describeWorkActivity(def.byName.get('end')!, 'WKF-560036', 'crashed')).toBe("WKF-560036 activity 'end': crashed");
  });
});
