import { CatalogueError, ErrorCatalogue, renderMessage, type CatalogueEntry, type MessageParams } from '@cap/platform-errors';

/**
 * The faults of the workflow engine, by their entries in the error catalogue
 * (libs/platform/errors/src/error.catalogue.ts, listed in docs/errors.md): nothing here spells a code. The library
 * stays free of I/O and of the platform's error type: a command's fault is a WorkflowFault (its catalogue entry and
 * text), which the engine (apps/cloud-executor/src/workflow/workflow.engine.ts) answers as a Campaign SOAP fault.
 */

/** Why a definition cannot be started, by catalogue entry. */
export const DEFINITION_ERRORS = {
  /** The activities memo is empty, not XML, or not an <activities> document. */
  malformed: ErrorCatalogue.WORKFLOW_DEFINITION_MALFORMED,
  /** An activity element of a type the engine does not run. */
  unknownActivityType: ErrorCatalogue.WORKFLOW_UNKNOWN_ACTIVITY_TYPE,
  /** A transition without a target, or to an activity that does not exist. */
  danglingTransition: ErrorCatalogue.WORKFLOW_DANGLING_TRANSITION,
  /** No start activity, or no end activity reachable from the start activities. */
  noPath: ErrorCatalogue.WORKFLOW_NO_PATH,
  /** An activity with bad settings: name, duplicate, wait delay, test condition or transitions. */
  invalidActivity: ErrorCatalogue.WORKFLOW_INVALID_ACTIVITY,
  /** A delivery activity whose template does not exist or cannot be sent (channel, personalisation, target). */
  deliveryTemplate: ErrorCatalogue.WORKFLOW_DELIVERY_TEMPLATE,
} as const;

/** The code of each entry of a table of catalogue entries, under the same name. */
function codesOf<T extends Readonly<Record<string, CatalogueEntry>>>(entries: T): { readonly [N in keyof T]: T[N]['code'] } {
  return Object.fromEntries(Object.entries(entries).map(([name, e]) => [name, e.code])) as { readonly [N in keyof T]: T[N]['code'] };
}

/** The codes of DEFINITION_ERRORS (a DefinitionProblem carries its code). */
export const DEFINITION_CODES = codesOf(DEFINITION_ERRORS);

export type DefinitionCode = (typeof DEFINITION_CODES)[keyof typeof DEFINITION_CODES];

const DEFINITION_ENTRY_BY_CODE = new Map<string, CatalogueEntry>(Object.values(DEFINITION_ERRORS).map((e) => [e.code, e]));

/**
 * Why an activity that does work failed, by catalogue entry: the code starts the workflow log line and @status
 * (`Error: …`). A Campaign error raised by a data call the script did not catch keeps WORKFLOW_SCRIPT_ERROR (its own
 * code is in the message).
 */
export const ACTIVITY_ERRORS = {
  /** JavaScript: syntax error, or an exception the script did not catch (the line is given). */
  scriptError: ErrorCatalogue.WORKFLOW_SCRIPT_ERROR,
  /** JavaScript: the script used more CPU time than WORKFLOW_JS_CPU_LIMIT_MS. */
  cpuLimit: ErrorCatalogue.WORKFLOW_SCRIPT_CPU_LIMIT,
  /** JavaScript: the script used more memory than WORKFLOW_JS_MEMORY_LIMIT_MB, or recursed too deeply. */
  memoryLimit: ErrorCatalogue.WORKFLOW_SCRIPT_MEMORY_LIMIT,
  /** JavaScript: the script ran longer than WORKFLOW_JS_TIMEOUT_MS, waits on queries and writes included. */
  timeLimit: ErrorCatalogue.WORKFLOW_SCRIPT_TIME_LIMIT,
  /** JavaScript: the script called logError(). */
  logError: ErrorCatalogue.WORKFLOW_SCRIPT_LOG_ERROR,
  /** JavaScript: the script was interrupted because the workflow was stopped (a log line, not an error). */
  stopped: ErrorCatalogue.WORKFLOW_SCRIPT_STOPPED,
  /** The script sandbox failed (worker crashed or could not start). */
  sandbox: ErrorCatalogue.WORKFLOW_SANDBOX_FAILED,
  /** JavaScript: one scope of the variables the script left is larger than WORKFLOW_VARIABLES_MAX_BYTES. */
  variablesLimit: ErrorCatalogue.WORKFLOW_VARIABLES_LIMIT,
  /**
   * JavaScript: what crossed from the script to the engine (its variables, a log line, a call's arguments) was
   * malformed, or reading the variables back threw (a getter of the script).
   */
  malformed: ErrorCatalogue.WORKFLOW_SCRIPT_MALFORMED,
  /** Query activity: the population could not be targeted. */
  query: ErrorCatalogue.WORKFLOW_QUERY_FAILED,
  /** Update data activity: no inbound population, or it could not be written. */
  update: ErrorCatalogue.WORKFLOW_UPDATE_FAILED,
  /** Delivery activity: no target, the delivery action could not be created, or the delivery failed. */
  delivery: ErrorCatalogue.WORKFLOW_DELIVERY_FAILED,
} as const;

/** The codes of ACTIVITY_ERRORS, as a failed work activity's outcome and the workflow log carry them. */
export const ACTIVITY_CODES = codesOf(ACTIVITY_ERRORS);

export const STATE_LABELS: Record<number, string> = { 0: 'being edited', 11: 'started', 13: 'paused', 15: 'stop requested', 20: 'finished' };

/**
 * A command the workflow refuses, raised by its catalogue entry (SOAP-ENV:Client: repeating it gives the same
 * answer). The code is the first word of the message; the engine turns it into the wire form with `appErrorOf`.
 */
export class WorkflowFault extends CatalogueError {
  constructor(entry: CatalogueEntry, text: string) {
    super(entry, text);
    this.name = 'WorkflowFault';
  }
}

export function isWorkflowFault(err: unknown): err is WorkflowFault {
  return err instanceof WorkflowFault;
}

const fault = <E extends CatalogueEntry>(e: E, params: MessageParams<E>): WorkflowFault => new WorkflowFault(e, renderMessage(e, params));

/** The faults of the workflow commands (xtk:workflow#Start, Stop, Pause, Resume, PostEvent…). */
export const WORKFLOW_FAULTS = {
  unknownWorkflow: (workflowId: string): WorkflowFault => fault(ErrorCatalogue.WORKFLOW_UNKNOWN, { workflow: workflowId.slice(0, 80) }),
  /** The first problem's entry gives the code; the text lists them all. */
  invalidDefinition: (internalName: string, problems: readonly { code: DefinitionCode; message: string }[]): WorkflowFault =>
    fault(DEFINITION_ENTRY_BY_CODE.get(problems[0]!.code) ?? DEFINITION_ERRORS.malformed, {
      workflow: internalName,
      problems: problems.map((p) => p.message).join('; '),
    }),
  notStarted: (internalName: string, state: number): WorkflowFault =>
    fault(ErrorCatalogue.WORKFLOW_NOT_STARTED, { workflow: internalName, state: STATE_LABELS[state] ?? `in state ${state}` }),
  notWaiting: (internalName: string, activity: string, why: string): WorkflowFault =>
    fault(ErrorCatalogue.WORKFLOW_NOT_WAITING, { activity: activity.slice(0, 64), workflow: internalName, why }),
  unknownTransition: (internalName: string, activity: string, transition: string, known: string[]): WorkflowFault =>
    fault(ErrorCatalogue.WORKFLOW_UNKNOWN_TRANSITION, {
      activity,
      workflow: internalName,
      transition: transition.slice(0, 64),
      transitions: known.length > 0 ? `its transitions: ${known.join(', ')}` : 'its transitions are unnamed: leave the transition empty',
    }),
  alreadyStarted: (internalName: string): WorkflowFault => fault(ErrorCatalogue.WORKFLOW_ALREADY_STARTED, { workflow: internalName }),
} as const;
