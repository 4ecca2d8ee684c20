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
