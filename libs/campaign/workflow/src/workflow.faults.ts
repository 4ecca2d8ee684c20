/**
 * Campaign-style faults of the workflow engine (listed in docs/errors.md). The numbers are ours: Campaign's
 * own WKF codes for these conditions are not documented. The library stays free of I/O and of the platform's
 * error type: a command's fault is a WorkflowFault (code + message), which the engine
 * (apps/cloud-executor/src/workflow/workflow.engine.ts) answers as a Campaign SOAP fault.
 */
export const DEFINITION_CODES = {
  /** The activities memo is empty, not XML, or not an <activities> document. */
  malformed: 'WKF-560010',
  /** An activity element of a type the engine does not run. */
  unknownActivityType: 'WKF-560011',
  /** A transition without a target, or to an activity that does not exist. */
  danglingTransition: 'WKF-560012',
  /** No start activity, or no end activity reachable from the start activities. */
  noPath: 'WKF-560013',
  /** An activity with bad settings: name, duplicate, wait delay, test condition or transitions. */
  invalidActivity: 'WKF-560014',
  /** A delivery activity whose template does not exist or cannot be sent (channel, personalisation, target). */
  deliveryTemplate: 'WKF-560015',
} as const;

export type DefinitionCode = (typeof DEFINITION_CODES)[keyof typeof DEFINITION_CODES];

/**
 * Why an activity that does work failed: the code starts the workflow log line and @status (`Error: …`).
 * A Campaign error raised by a data call the script did not catch keeps WKF-560030 (its own code is in the
 * message).
 */
export const ACTIVITY_CODES = {
  /** JavaScript: syntax error, or an exception the script did not catch (the line is given). */
  scriptError: 'WKF-560030',
  /** JavaScript: the script used more CPU time than WORKFLOW_JS_CPU_LIMIT_MS. */
  cpuLimit: 'WKF-560031',
  /** JavaScript: the script used more memory than WORKFLOW_JS_MEMORY_LIMIT_MB, or recursed too deeply. */
  memoryLimit: 'WKF-560032',
  /** JavaScript: the script ran longer than WORKFLOW_JS_TIMEOUT_MS, waits on queries and writes included. */
  timeLimit: 'WKF-560033',
  /** JavaScript: the script called logError(). */
  logError: 'WKF-560034',
  /** JavaScript: the script was interrupted because the workflow was stopped (a log line, not an error). */
  stopped: 'WKF-560035',
  /** The script sandbox failed (worker crashed or could not start). */
  sandbox: 'WKF-560036',
  /** JavaScript: one scope of the variables the script left is larger than WORKFLOW_VARIABLES_MAX_BYTES. */
  variablesLimit: 'WKF-560037',
  /**
   * JavaScript: what crossed from the script to the engine (its variables, a log line, a call's arguments) was
   * malformed, or reading the variables back threw (a getter of the script).
   */
  malformed: 'WKF-560038',
  /** Query activity: the population could not be targeted. */
  query: 'WKF-560040',
  /** Update data activity: no inbound population, or it could not be written. */
  update: 'WKF-560041',
  /** Delivery activity: no target, the delivery action could not be created, or the delivery failed. */
  delivery: 'WKF-560042',
} as const;

export const STATE_LABELS: Record<number, string> = { 0: 'being edited', 11: 'started', 13: 'paused', 15: 'stop requested', 20: 'finished' };

/** A command the workflow refuses (SOAP-ENV:Client: repeating it gives the same answer). */
export class WorkflowFault extends Error {
  readonly retriable = false;
  constructor(
    readonly code: string,
    text: string,
  ) {
    super(`${code} ${text}`);
    this.name = 'WorkflowFault';
  }
}

export function isWorkflowFault(err: unknown): err is WorkflowFault {
  return err instanceof WorkflowFault;
}

/** The faults of the workflow commands (xtk:workflow#Start, Stop, Pause, Resume, PostEvent…). */
export const WORKFLOW_FAULTS = {
  unknownWorkflow: (workflowId: string): WorkflowFault => new WorkflowFault('WKF-560001', `The workflow '${workflowId.slice(0, 80)}' does not exist (give its internal name or its numeric id).`),
  invalidDefinition: (internalName: string, problems: readonly { code: string; message: string }[]): WorkflowFault =>
    new WorkflowFault(problems[0]!.code, `The workflow '${internalName}' cannot be started: ${problems.map((p) => p.message).join('; ')}.`),
  notStarted: (internalName: string, state: number): WorkflowFault =>
    new WorkflowFault('WKF-560020', `The workflow '${internalName}' is not started (it is ${STATE_LABELS[state] ?? `in state ${state}`}).`),
  notWaiting: (internalName: string, activity: string, why: string): WorkflowFault =>
    new WorkflowFault('WKF-560021', `Activity '${activity.slice(0, 64)}' of the workflow '${internalName}' is not waiting for a signal: ${why}.`),
  unknownTransition: (internalName: string, activity: string, transition: string, known: string[]): WorkflowFault =>
    new WorkflowFault(
      'WKF-560022',
      `Activity '${activity}' of the workflow '${internalName}' has no transition named '${transition.slice(0, 64)}' (${known.length > 0 ? `its transitions: ${known.join(', ')}` : 'its transitions are unnamed: leave the transition empty'}).`,
    ),
  alreadyStarted: (internalName: string): WorkflowFault => new WorkflowFault('WKF-560023', `The workflow '${internalName}' is already started; stop it before starting a new run.`),
} as const;
