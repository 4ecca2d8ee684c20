import { z } from 'zod';
import { errors } from '@cap/platform-errors';
import type { RpcHandler } from '@cap/platform-kafka';
import { systemClock, type Clock } from '@cap/campaign-workflow';
import type { WorkflowEngine } from './workflow.engine';

const workflowId = z.string().min(1).max(200);
/** Variables: attribute name → text, from <variables …/>. */
const variables = z
  .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/, 'expected a variable name'), z.string().max(64 * 1024))
  .refine((v) => Object.keys(v).length <= 500, {
    message: 'at most 500 variables',
  });

const commandParams = z.discriminatedUnion('command', [
  z.object({ command: z.enum(['start', 'stop', 'pause', 'resume']), workflowId }),
  z.object({ command: z.literal('startWithParameters'), workflowId, parameters: variables.default({}) }),
  z.object({
    command: z.literal('postEvent'),
    workflowId,
    activity: z.string().max(200),
    transition: z.string().max(200).default(''),
    parameters: variables.default({}),
    complete: z.boolean().default(false),
  }),
]);

const logParams = z.object({ workflowId, limit: z.number().int().min(1).max(1_000).default(200) });

/**
 * `workflow.command`: xtk:workflow#Start, Stop, Pause, Resume, PostEvent, StartWithParameters, as the gateway
 * forwards them. The reply comes once the command is durable and the workflow has run until it waits (or
 * until `budgetMs`, well before the caller's deadline; the timer loop carries on); PostEvent's once its signal is
 * queued, or written to the workflow log as undeliverable (decision `signalIgnored`).
 * `workflow.log`: the instance's state, variables, current run's tasks and latest log lines.
 */
export function createWorkflowRpcHandlers(deps: { engine: WorkflowEngine; budgetMs: number; now?: Clock }): Record<string, RpcHandler> {
  const clock = deps.now ?? systemClock;
  return {
    'workflow.command': async (params, ctx) => {
      const p = commandParams.safeParse(params);
      if (!p.success) throw errors.invalidRequest('workflow.command parameters', p.error.issues[0]?.message ?? 'rejected');
      // Reply well before the caller gives up: keep a margin for the reply's own trip.
      const until = Math.min(clock().getTime() + deps.budgetMs, ctx.deadline - 1_000);
      const result = await deps.engine.command(p.data, { until });
      return { workflowId: result.workflowId, internalName: result.internalName, decision: result.decision };
    },
    'workflow.log': async (params) => {
      const p = logParams.safeParse(params);
      if (!p.success) throw errors.invalidRequest('workflow.log parameters', p.error.issues[0]?.message ?? 'rejected');
      return deps.engine.report(p.data.workflowId, p.data.limit);
    },
  };
}
