import { campaignError } from '@cap/campaign-persistence';
import type { AppError } from '@cap/platform-errors';

/**
 * Campaign-style faults of the workflow engine (listed in docs/errors.md). The numbers are ours: Campaign's
 * own WKF codes for these conditions are not documented.
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
} as const;

export type DefinitionCode = (typeof DEFINITION_CODES)[keyof typeof DEFINITION_CODES];

export const STATE_LABELS: Record<number, string> = { 0: 'being edited', 11: 'started', 13: 'paused', 15: 'stop requested', 20: 'finished' };

export const WORKFLOW_FAULTS = {
  unknownWorkflow: (workflowId: string): AppError => campaignError('WKF-560001', `The workflow '${workflowId.slice(0, 80)}' does not exist (give its internal name or its numeric id).`),
  invalidDefinition: (internalName: string, problems: readonly { code: string; message: string }[]): AppError =>
    campaignError(problems[0]!.code, `The workflow '${internalName}' cannot be started: ${problems.map((p) => p.message).join('; ')}.`),
  notStarted: (internalName: string, state: number): AppError =>
    campaignError('WKF-560020', `The workflow '${internalName}' is not started (it is ${STATE_LABELS[state] ?? `in state ${state}`}).`),
  notWaiting: (internalName: string, activity: string, why: string): AppError =>
    campaignError('WKF-560021', `Activity '${activity.slice(0, 64)}' of the workflow '${internalName}' is not waiting for a signal: ${why}.`),
  unknownTransition: (internalName: string, activity: string, transition: string, known: string[]): AppError =>
    campaignError(
      'WKF-560022',
      `Activity '${activity}' of the workflow '${internalName}' has no transition named '${transition.slice(0, 64)}' (${known.length > 0 ? `its transitions: ${known.join(', ')}` : 'its transitions are unnamed: leave the transition empty'}).`,
    ),
  alreadyStarted: (internalName: string): AppError => campaignError('WKF-560023', `The workflow '${internalName}' is already started; stop it before starting a new run.`),
} as const;
