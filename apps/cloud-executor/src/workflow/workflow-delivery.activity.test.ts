import type { DeliveryActionStatus } from '../delivery/delivery-action.creator';
import { deliveryOutputVars, planDeliveryCheck } from './workflow-delivery.activity';

const status = (over: Partial<DeliveryActionStatus>): DeliveryActionStatus => ({
  deliveryId: '1125899906842630',
  internalName: 'DM6',
  phase: 'sending',
  state: 55,
  failureText: null,
  targeted: 5,
  excluded: 1,
  toDeliver: 4,
  processed: 2,
  success: 2,
  error: 0,
  ...over,
});

describe('delivery activity: following its delivery', () => {
  it('when the delivery is still targeting or sending, then the task waits', () => {
    expect(planDeliveryCheck('1', status({ phase: 'targeting', state: 45 }))).toEqual({ kind: 'wait' });
    expect(planDeliveryCheck('1', status({}))).toEqual({ kind: 'wait' });
  });

  it('when the delivery is paused, then the task waits; when it is stopped, then the activity fails saying so', () => {
    expect(planDeliveryCheck('1', status({ phase: 'paused', state: 72 }))).toEqual({ kind: 'wait' });
    expect(planDeliveryCheck('1', status({ phase: 'stopped', state: 85 }))).toEqual({
      kind: 'failed',
      message: 'the delivery DM6 (1125899906842630) was stopped',
    });
  });

  it('when the delivery is finished, then the task is done with the indicators in its task variables and a log line', () => {
    const check = planDeliveryCheck('1125899906842630', status({ phase: 'finished', state: 95, processed: 4, success: 3, error: 1 }));
    expect(check).toEqual({
      kind: 'done',
      taskVars: { deliveryId: '1125899906842630', deliveryName: 'DM6', targeted: 5, excluded: 1, toDeliver: 4, success: 3, error: 1 },
      note: 'delivery DM6 (1125899906842630) finished: 5 targeted, 1 excluded, 4 to deliver, 3 sent, 1 failed',
    });
  });

  it('when the delivery failed or vanished, then the activity fails with the reason', () => {
    expect(planDeliveryCheck('1', status({ phase: 'failed', state: 99, failureText: "routing 'x' names no configured channel" }))).toEqual({
      kind: 'failed',
      message: "the delivery DM6 (1125899906842630) failed: routing 'x' names no configured channel",
    });
    expect(planDeliveryCheck('77', undefined)).toEqual({ kind: 'failed', message: 'the delivery action 77 no longer exists' });
  });

  it('when the activity completes, then its transitions carry the inbound variables and vars.deliveryId', () => {
    expect(deliveryOutputVars({ tableName: 'wkf_wt_3', recCount: 4 }, '9')).toEqual({ tableName: 'wkf_wt_3', recCount: 4, deliveryId: '9' });
  });
});
