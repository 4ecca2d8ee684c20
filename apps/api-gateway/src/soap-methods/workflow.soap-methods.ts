import { SERVICES } from '@cap/contracts';
import { SOAP_FAULTS } from '@cap/campaign-soap';
import type { XmlElement } from '@cap/campaign-xml';
import type { Downstreams } from '../downstream.client';
import type { CallContext, SoapMethodTable } from '../soap/soap-method';
import { boundedText, PARAM_LIMITS } from './param.limits';

type Command = 'start' | 'stop' | 'pause' | 'resume' | 'startWithParameters' | 'postEvent';

/**
 * xtk:workflow#Start, Stop, Pause, Resume, StartWithParameters and PostEvent: commands for cloud-executor's
 * workflow engine (workflowId = internal name or numeric id). They return nothing; the engine's faults
 * (unknown workflow, invalid definition, not started…) come back as Campaign-style faults, except PostEvent's:
 * as in Campaign, a signal that cannot be delivered is written to the workflow's log (docs/workflows.md).
 * Malformed or oversized parameters are refused here with SOAP_BAD_PARAMETER. Operators need the `workflow`
 * right (admins have it).
 */
export function createWorkflowSoapMethods(deps: { downstreams: Downstreams }): SoapMethodTable {
  const command = (name: Command) => async (ctx: CallContext) => {
    const raw = ctx.decoded.values.get('workflowId');
    const workflowId = typeof raw === 'string' ? raw.trim() : '';
    if (workflowId === '') throw SOAP_FAULTS.badParameter(ctx.method.name, 'workflowId', 'give the workflow internal name or its numeric id');
    const params: Record<string, unknown> = { command: name, workflowId: boundedText(ctx, 'workflowId', workflowId, PARAM_LIMITS.workflowIdChars) };
    if (name === 'startWithParameters' || name === 'postEvent') params['parameters'] = readVariables(ctx, 'parameters');
    if (name === 'postEvent') {
      const activity = ctx.decoded.values.get('activity');
      if (typeof activity !== 'string' || activity.trim() === '')
        throw SOAP_FAULTS.badParameter(ctx.method.name, 'activity', 'give the name of the external signal activity');
      const transition = ctx.decoded.values.get('transition');
      params['activity'] = boundedText(ctx, 'activity', activity.trim(), PARAM_LIMITS.activityNameChars);
      params['transition'] = boundedText(ctx, 'transition', typeof transition === 'string' ? transition.trim() : '', PARAM_LIMITS.activityNameChars);
      params['complete'] = ctx.decoded.values.get('complete') === true;
    }
    await deps.downstreams.call(SERVICES.cloudExecutor, 'workflow.command', params);
    return [];
  };
  const soapMethod = (name: Command) => ({ auth: 'operator' as const, right: 'workflow', handle: command(name) });
  return {
    'xtk:workflow#Start': soapMethod('start'),
    'xtk:workflow#Stop': soapMethod('stop'),
    'xtk:workflow#Pause': soapMethod('pause'),
    'xtk:workflow#Resume': soapMethod('resume'),
    'xtk:workflow#StartWithParameters': soapMethod('startWithParameters'),
    'xtk:workflow#PostEvent': soapMethod('postEvent'),
  };
}

/** `<variables a="1" b="x"/>` → { a: '1', b: 'x' } (namespace declarations and prefixed attributes left out). */
function readVariables(ctx: CallContext, param: string): Record<string, string> {
  const doc = ctx.decoded.values.get(param) as XmlElement | undefined;
  if (doc === undefined) return {};
  if (typeof doc !== 'object' || !('local' in doc)) throw SOAP_FAULTS.badParameter(ctx.method.name, param, 'expected a <variables …/> element');
  const vars: Record<string, string> = {};
  for (const [name, value] of Object.entries(doc.attrs)) {
    if (name === 'xmlns' || name.includes(':')) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/.test(name))
      throw SOAP_FAULTS.badParameter(ctx.method.name, param, `'${name.slice(0, 40)}' cannot be a variable name`);
    vars[name] = boundedText(ctx, param, value, PARAM_LIMITS.variableChars);
  }
  if (Object.keys(vars).length > PARAM_LIMITS.variablesPerCall)
    throw SOAP_FAULTS.badParameter(ctx.method.name, param, `more than ${PARAM_LIMITS.variablesPerCall} variables`);
  return vars;
}
