import { element } from '@cap/campaign-xml';
import type { Downstreams } from '../downstream.client';
import type { CallContext } from '../soap/soap-method';
import { createJobSoapMethods } from './job.soap-methods';

function setUp() {
  const calls: { method: string; params: unknown }[] = [];
  const downstreams: Downstreams = {
    async call<R>(_service: string, method: string, params: unknown) {
      calls.push({ method, params });
      return { jobId: 'J1', status: 2, logs: '<returnLogs/>', properties: '<properties warning="0"/>', result: '' } as R;
    },
    breakerState: () => 'closed',
  };
  return { calls, methods: createJobSoapMethods({ downstreams }) };
}

const operator = (rights: string[]) => ({ kind: 'operator', operator: { id: '7', login: 'ann', rights } });
function ctx(name: string, values: Record<string, unknown>, entity?: ReturnType<typeof element>, rights = ['delivery']): CallContext {
  return {
    method: { name },
    schema: { id: 'nms:delivery' },
    caller: operator(rights),
    decoded: { sessionToken: '', values: new Map(Object.entries(values)), ...(entity ? { entity } : {}) },
  } as unknown as CallContext;
}

describe('xtk:jobInterface and xtk:job SOAP methods', () => {
  it('when Submit, Execute or SubmitSoapCall name a method on an object with an id, then cloud-executor gets the operator, schema, method and id', async () => {
    const { calls, methods } = setUp();
    const delivery = element('delivery', { id: ' 12 ', xtkschema: 'nms:delivery' });
    expect(methods['xtk:jobInterface#Submit']).toMatchObject({ auth: 'operator', right: 'delivery' });
    expect(await methods['xtk:jobInterface#Submit']!.handle(ctx('Submit', { methodName: 'Start' }, delivery))).toEqual(['J1']);
    await methods['xtk:jobInterface#Execute']!.handle(ctx('Execute', { methodName: 'PrepareAndStart' }, delivery));
    await methods['xtk:jobInterface#SubmitSoapCall']!.handle(ctx('SubmitSoapCall', { soapCall: element('soapCall', { name: 'Start' }) }, delivery, ['admin']));
    expect(calls.map((c) => c.params)).toEqual([
      { operatorId: '7', admin: false, schema: 'nms:delivery', method: 'Start', objectId: '12' },
      { operatorId: '7', admin: false, schema: 'nms:delivery', method: 'PrepareAndStart', objectId: '12' },
      { operatorId: '7', admin: true, schema: 'nms:delivery', method: 'Start', objectId: '12' },
    ]);
  });

  it('when the method, the object id or the job id is missing or oversized, then SOP-330008 answers before cloud-executor is asked', async () => {
    const { calls, methods } = setUp();
    const submit = methods['xtk:jobInterface#Submit']!;
    await expect(submit.handle(ctx('Submit', { methodName: '' }, element('delivery', { id: '1' })))).rejects.toMatchObject({ code: 'SOP-330008' });
    await expect(submit.handle(ctx('Submit', { methodName: 'x'.repeat(129) }, element('delivery', { id: '1' })))).rejects.toMatchObject({ code: 'SOP-330008' });
    await expect(submit.handle(ctx('Submit', { methodName: 'Start' }, element('delivery', {})))).rejects.toMatchObject({ code: 'SOP-330008' });
    await expect(submit.handle(ctx('Submit', { methodName: 'Start' }, element('delivery', { id: '9'.repeat(41) })))).rejects.toMatchObject({
      code: 'SOP-330008',
    });
    for (const id of ['', 'j'.repeat(65), undefined])
      await expect(methods['xtk:job#GetStatus']!.handle(ctx('GetStatus', { id }))).rejects.toMatchObject({ code: 'SOP-330008' });
    expect(calls).toEqual([]);
  });

  it('when GetStatus is asked for too many logs, then the count is bounded; Cancel and Pause become stop and pause', async () => {
    const { calls, methods } = setUp();
    const out = await methods['xtk:job#GetStatus']!.handle(ctx('GetStatus', { id: 'J1', lastLogId: 3, maxLogCount: 1_000_000 }));
    expect(Array.isArray(out) && out[0]).toBe(2);
    await methods['xtk:job#Cancel']!.handle(ctx('Cancel', { id: 'J1' }));
    await methods['xtk:job#Pause']!.handle(ctx('Pause', { id: 'J1' }));
    expect(calls).toEqual([
      { method: 'job.status', params: { operatorId: '7', admin: false, jobId: 'J1', lastLogId: 3, maxLogCount: 1000 } },
      { method: 'job.control', params: { operatorId: '7', admin: false, jobId: 'J1', command: 'stop' } },
      { method: 'job.control', params: { operatorId: '7', admin: false, jobId: 'J1', command: 'pause' } },
    ]);
  });
});
