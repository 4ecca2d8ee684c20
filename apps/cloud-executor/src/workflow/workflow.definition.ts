import { attrLocal, parseXml, XmlParseError, type XmlElement } from '@cap/campaign-xml';
import { ConditionSyntaxError, parseCondition, type ConditionNode } from './workflow-condition.parser';
import { DEFINITION_CODES, type DefinitionCode } from './workflow.faults';

/**
 * A workflow definition: the `activities` memo of xtk:workflow, parsed and checked before a run starts.
 *
 *   <activities>
 *     <start name="start"><transition target="signal"/></start>
 *     <external name="signal" label="Signal"><transition target="end"/></external>
 *     <end name="end"/>
 *   </activities>
 *
 * Activity elements (case-insensitive): start, end, external (alias externalSignal), wait (delay="seconds"),
 * fork, andjoin (alias andJoin), test (condition="…", transitions named "true" and optionally "false").
 * Transitions are `<transition name="…" target="…"/>` children, directly or inside `<transitions>`; other
 * children are ignored.
 */

export type ActivityType = 'start' | 'end' | 'external' | 'wait' | 'fork' | 'andjoin' | 'test';

export interface Transition {
  /** '' when unnamed. */
  name: string;
  target: string;
  /** Identifies this transition as an arrival at an and-join: `source#index`. */
  key: string;
}

export interface Activity {
  name: string;
  type: ActivityType;
  label: string;
  transitions: Transition[];
  /** wait: seconds to wait. */
  delaySeconds?: number;
  /** test: the parsed condition and its text. */
  condition?: ConditionNode;
  conditionText?: string;
}

export interface WorkflowDefinition {
  activities: Activity[];
  byName: ReadonlyMap<string, Activity>;
  /** For each and-join: the keys of the transitions it waits for. */
  joinInputs: ReadonlyMap<string, readonly string[]>;
}

export interface DefinitionProblem {
  code: DefinitionCode;
  message: string;
  activity?: string;
}

export type DefinitionResult = { ok: true; definition: WorkflowDefinition } | { ok: false; problems: DefinitionProblem[] };

const TYPE_ALIASES: Record<string, ActivityType> = {
  start: 'start',
  end: 'end',
  external: 'external',
  externalsignal: 'external',
  wait: 'wait',
  fork: 'fork',
  andjoin: 'andjoin',
  test: 'test',
};

export const DEFINITION_LIMITS = {
  maxActivities: 500,
  maxTransitionsPerActivity: 50,
  /** One year. */
  maxDelaySeconds: 366 * 24 * 3600,
  maxXmlLength: 1024 * 1024,
} as const;

const ACTIVITY_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** Parses and validates a definition; every problem found is listed (the first decides the fault code). */
export function parseWorkflowDefinition(xml: string): DefinitionResult {
  const problems: DefinitionProblem[] = [];
  const problem = (code: DefinitionCode, message: string, activity?: string) => problems.push({ code, message, ...(activity ? { activity } : {}) });
  if (xml.trim() === '') return fail(DEFINITION_CODES.malformed, 'the workflow has no activities');
  let root: XmlElement;
  try {
    root = parseXml(xml, { source: 'activities', limits: { maxLength: DEFINITION_LIMITS.maxXmlLength, maxDepth: 16 } });
  } catch (err) {
    if (err instanceof XmlParseError) return fail(DEFINITION_CODES.malformed, `the activities are not well-formed XML (${err.message})`);
    throw err;
  }
  if (root.local !== 'activities') return fail(DEFINITION_CODES.malformed, `the definition's root element is <${root.local}>, expected <activities>`);
  if (root.children.length === 0) return fail(DEFINITION_CODES.malformed, 'the workflow has no activities');
  if (root.children.length > DEFINITION_LIMITS.maxActivities) return fail(DEFINITION_CODES.malformed, `the workflow has more than ${DEFINITION_LIMITS.maxActivities} activities`);

  const activities: Activity[] = [];
  const byName = new Map<string, Activity>();
  const rejected = new Set<string>(); // activities already reported: transitions to them are not reported again
  for (const el of root.children) {
    const type = Object.hasOwn(TYPE_ALIASES, el.local.toLowerCase()) ? TYPE_ALIASES[el.local.toLowerCase()] : undefined;
    const name = attrLocal(el, 'name') ?? '';
    const where = `line ${el.line}`;
    if (!type) {
      rejected.add(name);
      problem(DEFINITION_CODES.unknownActivityType, `unknown activity type <${el.local.slice(0, 64)}>${name ? ` ('${name.slice(0, 64)}')` : ''} (${where}); supported: start, end, external, wait, fork, andjoin, test`, name || undefined);
      continue;
    }
    if (!ACTIVITY_NAME.test(name)) {
      problem(DEFINITION_CODES.invalidActivity, `the <${el.local}> activity at ${where} needs a name of letters, digits, '_' or '-' (up to 64 characters)`);
      continue;
    }
    if (byName.has(name)) {
      problem(DEFINITION_CODES.invalidActivity, `two activities are named '${name}'`, name);
      continue;
    }
    const transitionEls = [...el.children.filter((c) => c.local === 'transition'), ...el.children.filter((c) => c.local === 'transitions').flatMap((t) => t.children.filter((c) => c.local === 'transition'))];
    if (transitionEls.length > DEFINITION_LIMITS.maxTransitionsPerActivity) {
      problem(DEFINITION_CODES.invalidActivity, `activity '${name}' has more than ${DEFINITION_LIMITS.maxTransitionsPerActivity} transitions`, name);
      continue;
    }
    const transitions: Transition[] = [];
    const transitionNames = new Set<string>();
    transitionEls.forEach((t, index) => {
      const target = attrLocal(t, 'target') ?? '';
      const tname = attrLocal(t, 'name') ?? '';
      if (target === '') {
        problem(DEFINITION_CODES.danglingTransition, `a transition of activity '${name}' has no target`, name);
        return;
      }
      if (tname !== '') {
        if (transitionNames.has(tname)) problem(DEFINITION_CODES.invalidActivity, `activity '${name}' has two transitions named '${tname}'`, name);
        transitionNames.add(tname);
      }
      transitions.push({ name: tname, target, key: `${name}#${index}` });
    });
    const activity: Activity = { name, type, label: attrLocal(el, 'label') ?? name, transitions };
    if (type === 'wait') {
      const raw = attrLocal(el, 'delay') ?? attrLocal(el, 'duration') ?? '';
      const delay = /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isFinite(delay) || delay > DEFINITION_LIMITS.maxDelaySeconds) {
        problem(DEFINITION_CODES.invalidActivity, `wait activity '${name}' needs delay="seconds" (a number from 0 to ${DEFINITION_LIMITS.maxDelaySeconds}), got '${raw.slice(0, 40)}'`, name);
      } else activity.delaySeconds = delay;
    }
    if (type === 'test') {
      const text = attrLocal(el, 'condition') ?? attrLocal(el, 'expr') ?? '';
      try {
        activity.condition = parseCondition(text);
        activity.conditionText = text;
      } catch (err) {
        if (!(err instanceof ConditionSyntaxError)) throw err;
        problem(DEFINITION_CODES.invalidActivity, `test activity '${name}': invalid condition: ${err.message}`, name);
      }
      const names = transitions.map((t) => t.name);
      if (!names.includes('true')) problem(DEFINITION_CODES.invalidActivity, `test activity '${name}' needs a transition named "true"`, name);
      const other = names.find((n) => n !== 'true' && n !== 'false');
      if (other !== undefined) problem(DEFINITION_CODES.invalidActivity, `test activity '${name}' has a transition named '${other}'; its transitions are named "true" and "false"`, name);
    }
    if (type === 'end' && transitions.length > 0) problem(DEFINITION_CODES.invalidActivity, `end activity '${name}' cannot have outgoing transitions`, name);
    activities.push(activity);
    byName.set(name, activity);
  }

  // Transitions must lead to activities of this workflow; start activities have no way in.
  const incoming = new Map<string, string[]>();
  for (const a of activities) {
    for (const t of a.transitions) {
      const target = byName.get(t.target);
      if (!target) {
        if (rejected.has(t.target)) continue;
        problem(DEFINITION_CODES.danglingTransition, `activity '${a.name}' has a transition to '${t.target.slice(0, 64)}', which is not an activity of this workflow`, a.name);
        continue;
      }
      if (target.type === 'start') problem(DEFINITION_CODES.invalidActivity, `activity '${a.name}' has a transition to start activity '${target.name}'; start activities have no incoming transitions`, a.name);
      incoming.set(target.name, [...(incoming.get(target.name) ?? []), t.key]);
    }
  }
  const starts = activities.filter((a) => a.type === 'start');
  if (starts.length === 0) problem(DEFINITION_CODES.noPath, 'the workflow has no start activity');
  else if (problems.length === 0 && !reachesEnd(starts, byName)) {
    problem(DEFINITION_CODES.noPath, 'no end activity can be reached from the start activities');
  }
  for (const a of activities) {
    if (a.type === 'andjoin' && (incoming.get(a.name)?.length ?? 0) === 0) problem(DEFINITION_CODES.invalidActivity, `and-join '${a.name}' has no incoming transition`, a.name);
  }
  if (problems.length > 0) return { ok: false, problems };
  const joinInputs = new Map(activities.filter((a) => a.type === 'andjoin').map((a) => [a.name, incoming.get(a.name) ?? []] as const));
  return { ok: true, definition: { activities, byName, joinInputs } };

  function fail(code: DefinitionCode, message: string): DefinitionResult {
    return { ok: false, problems: [{ code, message }] };
  }
}

function reachesEnd(starts: Activity[], byName: ReadonlyMap<string, Activity>): boolean {
  const seen = new Set<string>();
  const queue = starts.map((s) => s.name);
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const a = byName.get(name);
    if (!a) continue;
    if (a.type === 'end') return true;
    for (const t of a.transitions) queue.push(t.target);
  }
  return false;
}
