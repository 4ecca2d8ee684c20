import { element } from '@cap/campaign-xml';
import { SoapFault } from '@cap/campaign-soap';
import type { Downstreams } from '../downstream.client';
import type { CallContext } from '../soap/soap-method';
import { createWorkflowSoapMethods } from './workflow.soap-methods';

function setUp() {
  const calls: { service: string; method: string; params: unknown }[] = [];
  const downstreams: Downstreams = {
    async call<R>(service: string, method: string, params: unknown) {
      calls.push({ service, method, params });
      return { workflowId: '1', internalName: 'WKF1', decision: 'newRun' } as R;
    },
    breakerState: () => 'closed',
  };
  return { calls, soapMethods: createWorkflowSoapMethods({ downstreams }) };
}

function ctx(method: string, values: Record<string, unknown>): CallContext {
  return { method: { name: method }, decoded: { sessionToken: '', values: new Map(Object.entries(values)) } } as unknown as CallContext;
}

describe('xtk:workflow SOAP methods', () => {
  it('when PostEvent arrives as the SDK sends it, then cloud-executor gets the command with the variables as plain attributes', async () => {
    const { calls, soapMethods } = setUp();
    const variables = element('variables', { hello: 'world', xmlns: 'urn:x', 'xsi:type': 'x' });
    const out = await soapMethods['xtk:workflow#PostEvent']!.handle(
      ctx('PostEvent', { workflowId: ' WKF1 ', activity: 'signal', transition: '', parameters: variables, complete: true }),
    );
    expect(out).toEqual([]);
    expect(calls).toEqual([
      {
        service: 'cloud-executor',
        method: 'workflow.command',
        params: { command: 'postEvent', workflowId: 'WKF1', activity: 'signal', transition: '', parameters: { hello: 'world' }, complete: true },
      },
    ]);
  });

  it('when Start, Stop, Pause, Resume or StartWithParameters arrive, then each becomes its command and needs the workflow right', async () => {
    const { calls, soapMethods } = setUp();
    for (const [key, command] of [
      ['Start', 'start'],
      ['Stop', 'stop'],
      ['Pause', 'pause'],
      ['Resume', 'resume'],
    ] as const) {
      expect(soapMethods[`xtk:workflow#${key}`]).toMatchObject({ auth: 'operator', right: 'workflow' });
      await soapMethods[`xtk:workflow#${key}`]!.handle(ctx(key, { workflowId: '4900' }));
      expect(calls.at(-1)!.params).toEqual({ command, workflowId: '4900' });
    }
    await soapMethods['xtk:workflow#StartWithParameters']!.handle(ctx('StartWithParameters', { workflowId: 'WKF1' }));
    expect(calls.at(-1)!.params).toEqual({ command: 'startWithParameters', workflowId: 'WKF1', parameters: {} });
  });

  it('when the workflow id or the activity is missing, then the call is refused with SOP-330008 before reaching the engine', async () => {
    const { calls, soapMethods } = setUp();
    await expect(soapMethods['xtk:workflow#Start']!.handle(ctx('Start', { workflowId: '  ' }))).rejects.toMatchObject({ code: 'SOP-330008' });
    await expect(soapMethods['xtk:workflow#PostEvent']!.handle(ctx('PostEvent', { workflowId: 'WKF1', activity: '' }))).rejects.toBeInstanceOf(SoapFault);
    expect(calls).toEqual([]);
  });
});
