import { element } from '@cap/campaign-xml';
import type { Downstreams } from '../downstream.client';
import type { CallContext } from '../soap/soap-method';
import { createDeliverySoapMethods } from './delivery.soap-methods';

function setUp() {
  const calls: { service: string; method: string; params: unknown }[] = [];
  const downstreams: Downstreams = {
    async call<R>(service: string, method: string, params: unknown) {
      calls.push({ service, method, params });
      return { deliveryId: '1125899906842625', internalName: 'DM1' } as R;
    },
    breakerState: () => 'closed',
  };
  return { calls, soapMethod: createDeliverySoapMethods({ downstreams })['nms:delivery#SubmitDelivery']! };
}

function ctx(values: Record<string, unknown>): CallContext {
  return { method: { name: 'SubmitDelivery' }, decoded: { sessionToken: '', values: new Map(Object.entries(values)) } } as unknown as CallContext;
}

describe('nms:delivery#SubmitDelivery SOAP method', () => {
  it('when SubmitDelivery arrives as the SDK sends it, then cloud-executor gets the template name and the fragment as plain XML, and the call returns nothing', async () => {
    const { calls, soapMethod } = setUp();
    expect(soapMethod).toMatchObject({ auth: 'operator', right: 'delivery' });
    const content = element('content', { label: 'June', 'xsi:type': 'ns:Element' }, [element('mailParameters', { subject: 'Hi' })]);
    expect(await soapMethod.handle(ctx({ scenarioName: ' NEWSLETTER ', content }))).toEqual([]);
    expect(calls).toEqual([
      {
        service: 'cloud-executor',
        method: 'delivery.submit',
        params: { scenarioName: 'NEWSLETTER', content: '<content label="June"><mailParameters subject="Hi"/></content>' },
      },
    ]);
    await soapMethod.handle(ctx({ scenarioName: 'NEWSLETTER' }));
    expect(calls.at(-1)!.params).toEqual({ scenarioName: 'NEWSLETTER' });
  });

  it('when the template name is missing or the content is not an element, then SOP-330008 is answered before reaching cloud-executor', async () => {
    const { calls, soapMethod } = setUp();
    await expect(soapMethod.handle(ctx({ scenarioName: '  ' }))).rejects.toMatchObject({ code: 'SOP-330008' });
    await expect(soapMethod.handle(ctx({ scenarioName: 'T', content: 'text' }))).rejects.toMatchObject({ code: 'SOP-330008' });
    expect(calls).toEqual([]);
  });
});

describe('nms:delivery#ExecCommand, Play, Pause, Stop SOAP methods', () => {
  const table = () => {
    const calls: { method: string; params: unknown }[] = [];
    const downstreams: Downstreams = {
      async call<R>(_service: string, method: string, params: unknown) {
        calls.push({ method, params });
        return { deliveryId: '1125899906842625', state: 72, changed: true } as R;
      },
      breakerState: () => 'closed',
    };
    return { calls, methods: createDeliverySoapMethods({ downstreams }) };
  };
  const commandCtx = (name: string, values: Record<string, unknown>) =>
    ({ method: { name }, decoded: { sessionToken: '', values: new Map(Object.entries(values)) } }) as unknown as CallContext;

  it('when ExecCommand names a command in any case, then cloud-executor gets it and the new state is returned; Play, Pause and Stop return nothing', async () => {
    const { calls, methods } = table();
    expect(methods['nms:delivery#ExecCommand']).toMatchObject({ auth: 'operator', right: 'delivery' });
    expect(await methods['nms:delivery#ExecCommand']!.handle(commandCtx('ExecCommand', { deliveryId: ' 1125899906842625 ', command: 'Pause' }))).toEqual([72]);
    expect(await methods['nms:delivery#Play']!.handle(commandCtx('Play', { deliveryId: '1125899906842625' }))).toEqual([]);
    expect(await methods['nms:delivery#Stop']!.handle(commandCtx('Stop', { deliveryId: '7' }))).toEqual([]);
    expect(calls).toEqual([
      { method: 'delivery.command', params: { deliveryId: '1125899906842625', command: 'pause' } },
      { method: 'delivery.command', params: { deliveryId: '1125899906842625', command: 'play' } },
      { method: 'delivery.command', params: { deliveryId: '7', command: 'stop' } },
    ]);
  });

  it('when the command is unknown, or the id empty or oversized, then SOP-330008 is answered before reaching cloud-executor', async () => {
    const { calls, methods } = table();
    const exec = methods['nms:delivery#ExecCommand']!;
    await expect(exec.handle(commandCtx('ExecCommand', { deliveryId: '1', command: 'delete' }))).rejects.toMatchObject({ code: 'SOP-330008' });
    await expect(exec.handle(commandCtx('ExecCommand', { deliveryId: '1' }))).rejects.toMatchObject({ code: 'SOP-330008' });
    await expect(exec.handle(commandCtx('ExecCommand', { deliveryId: '  ', command: 'play' }))).rejects.toMatchObject({ code: 'SOP-330008' });
    await expect(methods['nms:delivery#Pause']!.handle(commandCtx('Pause', { deliveryId: '9'.repeat(41) }))).rejects.toMatchObject({ code: 'SOP-330008' });
    expect(calls).toEqual([]);
  });
});

describe('nms:delivery#DeployTriggerMessages and DeployTriggerMessageSingle SOAP methods', () => {
  const withLive = (live: boolean) => {
    const calls: { method: string; params: unknown }[] = [];
    const downstreams: Downstreams = {
      async call<R>(_service: string, method: string, params: unknown) {
        calls.push({ method, params });
        return { live } as R;
      },
      breakerState: () => 'closed',
    };
    return { calls, methods: createDeliverySoapMethods({ downstreams }) };
  };
  const deployCtx = (name: string, values: Record<string, unknown>) =>
    ({ method: { name }, decoded: { sessionToken: '', values: new Map(Object.entries(values)) } }) as unknown as CallContext;

  it('when a message template id is given, then cloud-executor says whether it is live; a malformed id is refused before reaching it', async () => {
    const { calls, methods } = withLive(true);
    const single = methods['nms:delivery#DeployTriggerMessageSingle']!;
    expect(single).toMatchObject({ auth: 'operator', right: 'delivery' });
    expect(await single.handle(deployCtx('DeployTriggerMessageSingle', { deliveryId: '42', localPublish: false }))).toEqual([true]);
    for (const deliveryId of ['', '-1', '1'.repeat(19), undefined])
      await expect(single.handle(deployCtx('DeployTriggerMessageSingle', { deliveryId }))).rejects.toMatchObject({ code: 'SOP-330008' });
    expect(calls).toEqual([{ method: 'delivery.messageTemplateLive', params: { deliveryId: '42' } }]);
  });

  it('when DeployTriggerMessages gets a filter, then it returns at once; a filter that is not an element is refused', async () => {
    const { calls, methods } = withLive(false);
    const all = methods['nms:delivery#DeployTriggerMessages']!;
    expect(await all.handle(deployCtx('DeployTriggerMessages', { deliveries: element('where') }))).toEqual([]);
    expect(await all.handle(deployCtx('DeployTriggerMessages', {}))).toEqual([]);
    await expect(all.handle(deployCtx('DeployTriggerMessages', { deliveries: 'text' }))).rejects.toMatchObject({ code: 'SOP-330008' });
    expect(calls).toEqual([]);
  });
});
