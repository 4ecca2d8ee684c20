import { isWorkflowFault, systemClock } from '@cap/campaign-workflow';
import { appErrorOf } from '@cap/platform-errors';
import { createEngineCommands, type CommandResult, type WorkflowCommand } from './workflow-engine.commands';
import { createEngineContext, type WorkflowEngineDeps } from './workflow-engine.context';
import { createEngineReporting, type WorkflowReport } from './workflow-engine.reporting';
import { createEngineScheduler } from './workflow-engine.scheduler';
import { createEngineSteps } from './workflow-engine.steps';
import { createEngineWork } from './workflow-engine.work';
import type { ScriptPostEvent } from './workflow-script.host';

export type { CommandResult, WorkflowCommand } from './workflow-engine.commands';
export type { WorkflowEngineDeps, WorkflowEngineLimits } from './workflow-engine.context';
export type { WorkflowReport } from './workflow-engine.reporting';

export interface WorkflowEngine {
  /** Applies a command; started work then runs until it waits, or until `until` (epoch ms). */
  command(cmd: WorkflowCommand, options: { until: number }): Promise<CommandResult>;
  /** Instance state, the current run's tasks and the latest log lines. */
  report(workflowId: string, limit: number): Promise<WorkflowReport>;
  /**
   * One pass of the background loop: wakes due waits, runs work left behind (crash, budget), republishes. `busy`:
   * it found something to do; otherwise `nextDueAt` says when it next will (nothing else happening meanwhile).
   */
  tick(options: { until: number }): Promise<{ busy: boolean; nextDueAt?: Date }>;
  /** A PostEvent sent by a script: applied at once; the target's progress continues in the background. */
  postEventFromScript(event: ScriptPostEvent): Promise<void>;
  /** Stops starting work activities and waits for those running (a sandbox closed meanwhile abandons scripts). */
  close(): Promise<void>;
}

/**
 * The workflow engine. Each step is one transaction of the store (the cloud DB) that first locks the workflow's
 * instance: replicas (and the command path and the timer loop of one replica) take turns on a workflow, and a
 * crash loses at most the uncommitted step, which runs again — a task committed as done never runs twice.
 * State changes are published after commit (workflow-state.publisher.ts).
 *
 * Composed of one part per job: commands (workflow-engine.commands.ts), step execution
 * (workflow-engine.steps.ts), work activities (workflow-engine.work.ts), scheduling of drains and the timer
 * loop's tick (workflow-engine.scheduler.ts), and reporting (workflow-engine.reporting.ts).
 */
export function createWorkflowEngine(deps: WorkflowEngineDeps): WorkflowEngine {
  const ctx = createEngineContext(deps, deps.now ?? systemClock);
  const reporting = createEngineReporting(ctx);
  const steps = createEngineSteps(ctx, reporting);
  const work = createEngineWork(ctx, steps, reporting);
  const scheduler = createEngineScheduler(ctx, steps, work, reporting);
  const commands = createEngineCommands(ctx, { steps, work, scheduler, reporting });
  return {
    command: (cmd, options) => commands.command(cmd, options).catch(asCampaignFault),
    report: (workflowId, limit) => reporting.report(workflowId, limit).catch(asCampaignFault),
    tick: (options) => scheduler.tick(options),
    postEventFromScript: (event) => commands.postEventFromScript(event).catch(asCampaignFault),
    close: () => scheduler.close(),
  };
}

/** A command's WorkflowFault, answered as Campaign faults are (its catalogue entry's code and fault class). */
function asCampaignFault(err: unknown): never {
  throw isWorkflowFault(err) ? appErrorOf(err) : err;
}
