import { isDeliveryError } from '@cap/campaign-delivery';
import {
  decideCommand,
  DEFINITION_CODES,
  parseWorkflowDefinition,
  planSignal,
  WORKFLOW_FAULTS,
  WORKFLOW_STATE,
  type CommandDecision,
  type DefinitionCode,
  type Vars,
  type WorkflowDefinition,
  type WorkflowFault,
  type WorkflowInstance,
} from '@cap/campaign-workflow';
import { describeRef, parseWorkflowRef, type WorkflowRecord } from './workflow-definition.source';
import type { EngineContext } from './workflow-engine.context';
import type { EngineReporting } from './workflow-engine.reporting';
import type { EngineScheduler } from './workflow-engine.scheduler';
import type { EngineSteps } from './workflow-engine.steps';
import type { EngineWork } from './workflow-engine.work';
import type { ScriptPostEvent } from './workflow-script.host';
import type { WorkflowTransaction } from './workflow.store';

export type WorkflowCommand =
  | { command: 'start'; workflowId: string }
  | { command: 'stop' | 'pause' | 'resume'; workflowId: string }
  | { command: 'startWithParameters'; workflowId: string; parameters: Vars }
  | { command: 'postEvent'; workflowId: string; activity: string; transition: string; parameters: Vars; complete: boolean };

/** PostEvent's outcome when its signal cannot be delivered: written to the workflow log, not a fault. */
type PostOutcome = { decision: 'signalNow' | 'signalQueued' | 'signalIgnored'; stateChanged: boolean };

export interface CommandResult {
  workflowId: string;
  internalName: string;
  decision: CommandDecision | 'signalIgnored';
}

export interface EngineCommands {
  /**
   * Applies a command (faults: WorkflowFault); started work then runs until it waits, or until `until` (epoch ms).
   * PostEvent only queues its signal (or logs why it cannot be delivered) and returns.
   */
  command(cmd: WorkflowCommand, options: { until: number }): Promise<CommandResult>;
  /** A PostEvent sent by a script: queued as the SOAP call's; the target's progress continues in the background. */
  postEventFromScript(event: ScriptPostEvent): Promise<void>;
}

/**
 * The xtk:workflow commands: Start, StartWithParameters, Stop, Pause, Resume, PostEvent. Each is decided by the
 * planner from the workflow's state and applied in one transaction; then the workflow runs until it waits.
 */
export function createEngineCommands(
  ctx: EngineContext,
  parts: { steps: EngineSteps; work: EngineWork; scheduler: EngineScheduler; reporting: EngineReporting },
): EngineCommands {
  const { store, logger, clock, deps } = ctx;
  const { steps, work, scheduler, reporting } = parts;

  const startRun = async (tx: WorkflowTransaction, inst: WorkflowInstance, record: WorkflowRecord, def: WorkflowDefinition, parameters: Vars | undefined) => {
    await tx.cancelActiveTasks(inst.workflowId);
    await tx.dropWorkTables(inst.workflowId);
    const runId = inst.runId + 1;
    const variables = parameters ?? {}; // Start clears the instance variables
    await tx.updateInstance(
      inst.workflowId,
      {
        runId,
        state: WORKFLOW_STATE.started,
        failed: false,
        status: 'Started',
        definitionXml: record.activities,
        internalName: record.internalName,
        variables,
        taskCount: 0,
        startedAt: clock(),
        finishedAt: null,
      },
      { stateChanged: true },
    );
    Object.assign(inst, { runId, state: WORKFLOW_STATE.started, variables, taskCount: 0, definitionXml: record.activities, internalName: record.internalName });
    ctx.remember(inst.workflowId, runId, def);
    const names = Object.keys(variables);
    await tx.log(inst, 'info', null, `Workflow started (run ${runId})${names.length > 0 ? ` with parameters ${names.join(', ')}` : ''}`);
    for (const start of def.activities.filter((a) => a.type === 'start')) {
      await tx.insertTask(inst, { activity: start.name, activityType: start.type, status: 'pending', vars: {} });
    }
  };

  const resume = async (tx: WorkflowTransaction, inst: WorkflowInstance, parameters: Vars | undefined) => {
    const variables = parameters ? { ...inst.variables, ...parameters } : undefined;
    await tx.updateInstance(
      inst.workflowId,
      { state: WORKFLOW_STATE.started, failed: false, status: 'Started', ...(variables ? { variables } : {}) },
      { stateChanged: true },
    );
    inst.state = WORKFLOW_STATE.started;
    await tx.log(inst, 'info', null, 'Workflow resumed');
  };

  /**
   * PostEvent, as Campaign's workflow server takes it (docs/workflows.md, "PostEvent"): the signal is queued and
   * the call returns; what cannot be delivered is written to the workflow's log instead of faulting the caller
   * (workflow not started, no such external activity, unknown transition). The background runner (or Resume, on
   * a paused workflow) delivers a queued signal to its waiting task, or logs that nothing waits for it.
   */
  const postEvent = async (tx: WorkflowTransaction, inst: WorkflowInstance, cmd: Extract<WorkflowCommand, { command: 'postEvent' }>): Promise<PostOutcome> => {
    const decision = decideCommand(inst.state, cmd.command);
    const ignore = async (level: 'warning' | 'error', activity: string | null, fault: WorkflowFault): Promise<PostOutcome> => {
      await tx.log(inst, level, activity, `signal ignored: ${fault.message}`);
      return { decision: 'signalIgnored', stateChanged: false };
    };
    if (decision !== 'signalNow' && decision !== 'signalQueued') return ignore('error', null, WORKFLOW_FAULTS.notStarted(inst.internalName, inst.state));
    const def = ctx.definitionOf(inst);
    const activity = def.byName.get(cmd.activity);
    if (!activity) return ignore('warning', null, WORKFLOW_FAULTS.notWaiting(inst.internalName, cmd.activity, 'the workflow has no such activity'));
    if (activity.type !== 'external')
      return ignore(
        'warning',
        activity.name,
        WORKFLOW_FAULTS.notWaiting(inst.internalName, activity.name, `it is a ${activity.type} activity, not an external signal`),
      );
    const plan = planSignal(activity, cmd.transition, {}, cmd.parameters);
    if (!plan.ok && plan.reason === 'unknownTransition')
      return ignore('warning', activity.name, WORKFLOW_FAULTS.unknownTransition(inst.internalName, activity.name, cmd.transition, plan.known));
    await tx.insertSignal(inst, { activity: activity.name, transition: cmd.transition, vars: cmd.parameters, complete: cmd.complete }, 'pending');
    if (decision === 'signalQueued') await tx.log(inst, 'info', activity.name, 'signal queued: the workflow is paused');
    return { decision, stateChanged: false };
  };

  /** The templates of the delivery activities: each must exist and be sendable (a fault at Start, as in SubmitDelivery). */
  const checkDeliveryTemplates = async (def: WorkflowDefinition): Promise<{ code: DefinitionCode; message: string }[]> => {
    const problems: { code: DefinitionCode; message: string }[] = [];
    for (const a of def.activities) {
      if (a.type !== 'delivery' || !a.delivery) continue;
      if (!deps.deliveries) {
        problems.push({ code: DEFINITION_CODES.deliveryTemplate, message: `delivery activity '${a.name}': this engine has no delivery module` });
        continue;
      }
      try {
        await deps.deliveries.checkTemplate(a.delivery.template, { templateTarget: a.delivery.target === 'template' });
      } catch (err) {
        if (!isDeliveryError(err)) throw err;
        problems.push({ code: DEFINITION_CODES.deliveryTemplate, message: `delivery activity '${a.name}': ${err.message}` });
      }
    }
    return problems;
  };

  const startCommand = async (cmd: Extract<WorkflowCommand, { command: 'start' | 'startWithParameters' }>, record: WorkflowRecord) => {
    const parameters = cmd.command === 'startWithParameters' ? cmd.parameters : undefined;
    const parsed = parseWorkflowDefinition(record.activities, deps.schemas ? { schemas: deps.schemas } : {});
    const templateProblems = parsed.ok ? await checkDeliveryTemplates(parsed.definition) : [];
    return store.transaction(async (tx) => {
      await tx.ensureInstance(record.id, record.internalName);
      const inst = (await tx.lockInstance(record.id, { wait: true }))!;
      const decision = decideCommand(inst.state, cmd.command);
      if (decision === 'faultAlreadyStarted') throw WORKFLOW_FAULTS.alreadyStarted(inst.internalName);
      if (decision === 'resume') await resume(tx, inst, parameters);
      else {
        if (!parsed.ok) throw WORKFLOW_FAULTS.invalidDefinition(record.internalName, parsed.problems);
        if (templateProblems.length > 0) throw WORKFLOW_FAULTS.invalidDefinition(record.internalName, templateProblems);
        await startRun(tx, inst, record, parsed.definition, parameters);
      }
      return { decision, stateChanged: true };
    });
  };

  const otherCommand = async (cmd: Extract<WorkflowCommand, { command: 'stop' | 'pause' | 'resume' }>, workflowId: string) =>
    store.transaction(async (tx) => {
      const inst = (await tx.lockInstance(workflowId, { wait: true }))!;
      const decision = decideCommand(inst.state, cmd.command);
      switch (decision) {
        case 'faultNotStarted':
          throw WORKFLOW_FAULTS.notStarted(inst.internalName, inst.state);
        case 'pause':
          await tx.updateInstance(workflowId, { state: WORKFLOW_STATE.paused, status: 'Paused' }, { stateChanged: true });
          await tx.log(inst, 'info', null, 'Workflow paused');
          return { decision, stateChanged: true };
        case 'resume':
          await resume(tx, inst, undefined);
          return { decision, stateChanged: true };
        case 'stop': {
          if (inst.state === WORKFLOW_STATE.stopping) return { decision, stateChanged: await steps.finishStop(tx, inst) };
          const cancelled = await tx.cancelActiveTasks(workflowId);
          const interrupting = await tx.countInterrupting(workflowId, clock());
          if (interrupting > 0) {
            // Work activities are running (here or on another replica): "stop requested" until they are interrupted.
            await tx.updateInstance(workflowId, { state: WORKFLOW_STATE.stopping, status: 'Stop requested' }, { stateChanged: true });
            await tx.log(
              inst,
              'info',
              null,
              `Stop requested (${cancelled} active task${cancelled > 1 ? 's' : ''} cancelled; interrupting ${interrupting} running activit${interrupting > 1 ? 'ies' : 'y'})`,
            );
            return { decision, stateChanged: true };
          }
          await tx.dropWorkTables(workflowId);
          await tx.updateInstance(workflowId, { state: WORKFLOW_STATE.finished, status: 'Stopped', finishedAt: clock() }, { stateChanged: true });
          await tx.log(inst, 'info', null, `Workflow stopped${cancelled > 0 ? ` (${cancelled} active task${cancelled > 1 ? 's' : ''} cancelled)` : ''}`);
          return { decision, stateChanged: true };
        }
        default:
          return { decision, stateChanged: false };
      }
    });

  /** PostEvent's transaction: on a workflow that never ran, its instance row is created to hold the log line. */
  const postEventCommand = async (
    cmd: Extract<WorkflowCommand, { command: 'postEvent' }>,
    target: { workflowId: string; internalName: string },
    isNew: boolean,
  ) =>
    store.transaction(async (tx) => {
      if (isNew) await tx.ensureInstance(target.workflowId, target.internalName);
      const inst = (await tx.lockInstance(target.workflowId, { wait: true }))!;
      return postEvent(tx, inst, cmd);
    });

  const command = async (cmd: WorkflowCommand, options: { until: number }): Promise<CommandResult> => {
    const ref = parseWorkflowRef(cmd.workflowId);
    if (!ref) throw WORKFLOW_FAULTS.unknownWorkflow(cmd.workflowId);
    let target: { workflowId: string; internalName: string };
    let outcome: { decision: CommandResult['decision']; stateChanged: boolean };
    if (cmd.command === 'start' || cmd.command === 'startWithParameters') {
      const record = await deps.definitions.find(ref);
      if (!record) throw WORKFLOW_FAULTS.unknownWorkflow(describeRef(ref));
      target = { workflowId: record.id, internalName: record.internalName };
      outcome = await startCommand(cmd, record);
    } else {
      const known = await store.findInstance(ref);
      let record: WorkflowRecord | undefined;
      if (!known) {
        // Never ran here: unknown (a fault: there is no workflow to log on), or not started.
        record = await deps.definitions.find(ref);
        if (!record) throw WORKFLOW_FAULTS.unknownWorkflow(describeRef(ref));
      }
      target = known ?? { workflowId: record!.id, internalName: record!.internalName };
      if (cmd.command === 'postEvent') outcome = await postEventCommand(cmd, target, !known);
      else if (!known) {
        const decision = decideCommand(WORKFLOW_STATE.edition, cmd.command);
        if (decision === 'faultNotStarted') throw WORKFLOW_FAULTS.notStarted(target.internalName, WORKFLOW_STATE.edition);
        return { ...target, decision };
      } else {
        outcome = await otherCommand(cmd, known.workflowId);
        if (outcome.decision === 'stop') work.interruptLocal(known.workflowId);
      }
    }
    logger.info(
      { event: 'workflow.command', command: cmd.command, workflowId: target.workflowId, internalName: target.internalName, decision: outcome.decision },
      `workflow ${cmd.command}`,
    );
    if (outcome.stateChanged) await reporting.publishQuietly(target.workflowId);
    if (outcome.decision === 'signalNow') {
      // PostEvent is asynchronous (as Campaign's): the queued signal is delivered by the background runner.
      scheduler.kick(target.workflowId);
    } else if (outcome.decision === 'newRun' || outcome.decision === 'resume') {
      // The command is committed: what follows is the workflow's own progress (the timer loop finishes it if need be).
      await scheduler
        .drain(target.workflowId, { until: options.until, wait: true, claimWork: false })
        .catch((err: unknown) =>
          logger.warn({ event: 'workflow.drain_failed', workflowId: target.workflowId, err }, 'workflow progress deferred to the timer loop'),
        );
    }
    return { ...target, decision: outcome.decision };
  };

  const postEventFromScript = async (event: ScriptPostEvent): Promise<void> => {
    const result = await command(
      {
        command: 'postEvent',
        workflowId: event.workflowId,
        activity: event.activity,
        transition: event.transition,
        parameters: event.parameters,
        complete: event.complete,
      },
      { until: 0 },
    );
    scheduler.kick(result.workflowId);
  };

  return { command, postEventFromScript };
}
