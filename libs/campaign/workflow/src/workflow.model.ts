import type { DefinitionCode } from './workflow.faults';

/**
 * The workflow domain's types: states and variables, definitions and their activities, the durable state of a
 * run (instance, tasks, signals, log lines). Every other file of the library (and the engine in
 * apps/cloud-executor/src/workflow/) imports them from here, so the files that implement the rules never
 * import each other in a circle.
 */

/** xtk:workflow:state. */
export const WORKFLOW_STATE = { edition: 0, started: 11, paused: 13, stopping: 15, finished: 20 } as const;
export type WorkflowState = (typeof WORKFLOW_STATE)[keyof typeof WORKFLOW_STATE];

/** A variable's value: text (what StartWithParameters and PostEvent carry), or a number or boolean a script or activity set. */
export type VarValue = string | number | boolean;
export type Vars = Record<string, VarValue>;

export type CommandName = 'start' | 'startWithParameters' | 'stop' | 'pause' | 'resume' | 'postEvent';

export type ActivityType = 'start' | 'end' | 'external' | 'wait' | 'fork' | 'andjoin' | 'test' | 'js' | 'query' | 'update' | 'delivery';

export type UpdateMode = 'write' | 'ingest' | 'ingestExt';
export type UpdateOperation = 'insert' | 'insertOrUpdate' | 'update' | 'delete';

export interface QuerySettings {
  /** The cloud schema queried (`nms:recipient`). */
  schema: string;
  /** The `<where>` element as written, serialised ('' for every record). */
  where: string;
}

export interface UpdateSettings {
  mode: UpdateMode;
  /** Population form: the schema written for each record of the inbound working table. */
  schema?: string;
  operation: UpdateOperation;
  /** Population form: the values set on each record (`$(vars/@x)` and `$(instance/vars/@x)` are replaced). */
  fields: { xpath: string; value: string }[];
  /** Records form: each record element to write, serialised. */
  records: string[];
}

/**
 * Whom a delivery activity targets: `inbound` the population of the working table its inbound transition
 * carries (a query activity before it), `where` its own `<where>` on nms:recipient, `template` the template's
 * own target.
 */
export type DeliveryTargetSource = 'inbound' | 'where' | 'template';

export interface DeliverySettings {
  /** Internal name of the nms:delivery template (`@isModel`). */
  template: string;
  target: DeliveryTargetSource;
  /** `target="where"`: the `<where>` element, serialised. */
  where: string;
  /** The delivery action's label (`$(vars/@x)` replaced); absent: the template's. */
  label?: string;
}

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
  /** js: the script (line 1 is the first line of the `<script>` text). */
  script?: string;
  query?: QuerySettings;
  update?: UpdateSettings;
  delivery?: DeliverySettings;
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

/** A test activity's condition, parsed (workflow-condition.parser.ts). */
export type ConditionNode =
  | { kind: 'literal'; value: string | number | boolean }
  | { kind: 'variable'; scope: 'event' | 'instance'; name: string }
  | { kind: 'not'; operand: ConditionNode }
  | { kind: 'logical'; op: 'and' | 'or'; left: ConditionNode; right: ConditionNode }
  | { kind: 'compare'; op: CompareOp; left: ConditionNode; right: ConditionNode };

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

/** The durable state of one workflow (cap_wkf_instance). */
export interface WorkflowInstance {
  workflowId: string;
  internalName: string;
  runId: number;
  state: WorkflowState;
  failed: boolean;
  status: string | null;
  definitionXml: string;
  variables: Vars;
  taskCount: number;
  stateVersion: string;
  publishedVersion: string;
}

/** pending: to run; running: a work activity claimed by an engine (until lease_until); waiting; then over. */
export type TaskStatus = 'pending' | 'running' | 'waiting' | 'done' | 'cancelled' | 'failed';

/** One execution of an activity (cap_wkf_task). */
export interface WorkflowTask {
  id: string;
  activity: string;
  activityType: string;
  status: TaskStatus;
  vars: Vars;
  arrived: string[];
  wakeAt: Date | null;
  /** Claims of this task so far (work activities: 1 on the first run, more after an engine died mid-run). */
  attempt: number;
  leaseUntil: Date | null;
  /** task.vars: the task's own variables (JavaScript). */
  taskVars: Vars;
}

/** A PostEvent for an external-signal activity (cap_wkf_event). */
export interface WorkflowSignal {
  id: string;
  activity: string;
  transition: string;
  vars: Vars;
  complete: boolean;
}

/** A line of the workflow log (cap_wkf_log). */
export interface LogLine {
  at: string;
  level: 'info' | 'warning' | 'error';
  activity: string | null;
  message: string;
  runId: number;
}

/** The time as the engine sees it: injected, so tests can move it. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
