import { evaluateCondition } from './workflow-condition.parser';
import { WORKFLOW_STATE, type Activity, type CommandName, type Transition, type Vars, type WorkflowDefinition, type WorkflowState } from './workflow.model';

/**
 * The engine's decisions as pure functions: what a command does in each workflow state, what running an
 * activity produces, what a signal fires. The engine (apps/cloud-executor/src/workflow/workflow.engine.ts) applies them to the database.
 */

export type CommandDecision =
  /** Start a new run from the start activities (instance variables replaced). */
  | 'newRun'
  /** Paused → started; waiting work continues, queued signals are delivered. */
  | 'resume'
  | 'pause'
  /** Cancel every active task: the run is finished. */
  | 'stop'
  /** PostEvent on a started workflow: the signal is applied now. */
  | 'signalNow'
  /** PostEvent on a paused workflow: the signal waits for Resume. */
  | 'signalQueued'
  /** Nothing to do (Pause on a paused workflow, Stop on a finished one…). */
  | 'noop'
  | 'faultAlreadyStarted'
  | 'faultNotStarted';

/**
 * What a command does in a state (Campaign semantics, docs/campaign-api.md): Start from being edited,
 * finished or never run → a new run; Start on a paused workflow resumes it; Stop → finished; PostEvent
 * needs a started (or paused: queued) workflow.
 */
export function decideCommand(state: WorkflowState, command: CommandName): CommandDecision {
  const active = state === WORKFLOW_STATE.started || state === WORKFLOW_STATE.paused || state === WORKFLOW_STATE.stopping;
  switch (command) {
    case 'start':
    case 'startWithParameters':
      if (state === WORKFLOW_STATE.started || state === WORKFLOW_STATE.stopping) return 'faultAlreadyStarted';
      return state === WORKFLOW_STATE.paused ? 'resume' : 'newRun';
    case 'pause':
      if (state === WORKFLOW_STATE.started) return 'pause';
      return state === WORKFLOW_STATE.paused ? 'noop' : 'faultNotStarted';
    case 'resume':
      if (state === WORKFLOW_STATE.paused) return 'resume';
      return state === WORKFLOW_STATE.started ? 'noop' : 'faultNotStarted';
    case 'stop':
      return active ? 'stop' : 'noop';
    case 'postEvent':
      if (state === WORKFLOW_STATE.started) return 'signalNow';
      return state === WORKFLOW_STATE.paused ? 'signalQueued' : 'faultNotStarted';
  }
}

/** A transition to follow, with the event variables it carries to its target. */
export interface Fire {
  transition: Transition;
  vars: Vars;
}

export type ActivityOutcome =
  /** The task is done; follow these transitions (none: the branch ends here). */
  | { kind: 'done'; fire: Fire[]; note?: string }
  /** The task waits for PostEvent naming its activity. */
  | { kind: 'waitSignal' }
  /** The task waits until a point in time (the timer loop wakes it). */
  | { kind: 'waitUntil'; wakeAt: Date }
  /** The activity does work (script, query, update): the engine claims it and runs it outside its transaction. */
  | { kind: 'work' };

/**
 * Runs one activity: start, fork and a completed and-join follow all their transitions; end ends its branch;
 * external waits for its signal; wait waits `delay` seconds (0: goes straight on); test follows "true" or
 * "false" (no "false" transition: the branch ends); js, query, updateData and delivery are work for the engine to run.
 */
export function planActivity(activity: Activity, input: { vars: Vars; instanceVars: Vars; now: Date }): ActivityOutcome {
  const all = (): Fire[] => activity.transitions.map((transition) => ({ transition, vars: input.vars }));
  switch (activity.type) {
    case 'start':
    case 'fork':
    case 'andjoin':
      return { kind: 'done', fire: all() };
    case 'end':
      return { kind: 'done', fire: [], note: 'end of branch' };
    case 'external':
      return { kind: 'waitSignal' };
    case 'wait': {
      const delayMs = Math.round((activity.delaySeconds ?? 0) * 1000);
      return delayMs <= 0 ? { kind: 'done', fire: all() } : { kind: 'waitUntil', wakeAt: new Date(input.now.getTime() + delayMs) };
    }
    case 'test': {
      const result = evaluateCondition(activity.condition!, { vars: input.vars, instanceVars: input.instanceVars });
      const branch = result ? 'true' : 'false';
      return {
        kind: 'done',
        fire: activity.transitions.filter((t) => t.name === branch).map((transition) => ({ transition, vars: input.vars })),
        note: `condition is ${branch}`,
      };
    }
    case 'js':
    case 'query':
    case 'update':
    case 'delivery':
      return { kind: 'work' };
  }
}

/**
 * The transitions a work activity follows: on success every transition but the one named "error", carrying
 * the activity's output variables; on failure only its "error" transition (none: the workflow goes to error).
 */
export function planWorkDone(activity: Activity, outcome: 'done' | 'failed', vars: Vars): Fire[] {
  const chosen = activity.transitions.filter((t) => (outcome === 'failed' ? t.name === 'error' : t.name !== 'error'));
  return chosen.map((transition) => ({ transition, vars }));
}

/** The transitions a wait activity follows when its time has come. */
export function planWakeUp(activity: Activity, vars: Vars): Fire[] {
  return activity.transitions.map((transition) => ({ transition, vars }));
}

export type SignalPlan = { ok: true; fire: Fire[] } | { ok: false; reason: 'notExternal' } | { ok: false; reason: 'unknownTransition'; known: string[] };

/**
 * A signal (PostEvent) received by an external activity: the named transition, or all of them when no
 * name is given. The event variables are the task's own, overlaid with the signal's parameters.
 */
export function planSignal(activity: Activity, transitionName: string, taskVars: Vars, signalVars: Vars): SignalPlan {
  if (activity.type !== 'external') return { ok: false, reason: 'notExternal' };
  const vars = { ...taskVars, ...signalVars };
  if (transitionName === '') return { ok: true, fire: activity.transitions.map((transition) => ({ transition, vars })) };
  const chosen = activity.transitions.filter((t) => t.name === transitionName);
  if (chosen.length === 0) return { ok: false, reason: 'unknownTransition', known: activity.transitions.map((t) => t.name).filter(Boolean) };
  return { ok: true, fire: chosen.map((transition) => ({ transition, vars })) };
}

/** Whether an and-join has received every transition that leads to it. */
export function isJoinComplete(definition: WorkflowDefinition, join: string, arrived: readonly string[]): boolean {
  const inputs = definition.joinInputs.get(join) ?? [];
  return inputs.every((key) => arrived.includes(key));
}

const WORK_LABELS: Record<string, string> = { js: 'JavaScript activity', query: 'query activity', update: 'update activity', delivery: 'delivery activity' };

/**
 * How the workflow log and `@status` name what happened to a work activity:
 * `<code> JavaScript activity 'script': Error: boom (line 3)`, the code of its catalogue entry first.
 */
export function describeWorkActivity(activity: Activity, code: string, message: string, line?: number): string {
  return `${code} ${WORK_LABELS[activity.type] ?? 'activity'} '${activity.name}': ${message}${line !== undefined ? ` (line ${line})` : ''}`;
}
