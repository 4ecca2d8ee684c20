import type { DeliveryActionStatus, DeliveryActions } from '../delivery/delivery-action.creator';
import type { Vars } from '@cap/campaign-workflow';

/**
 * The delivery activity: creates a delivery action from a template (the delivery module's durable job, the
 * same as SubmitDelivery's) and waits for it. The activity itself is short: its work step finds or creates the
 * action for its task (one per task, so an activity run again after a crash never sends twice), then the task
 * waits, woken every `deliveryPollMs` by the timer loop, until the action is finished (its transitions fire)
 * or failed (its error transition, else the workflow goes to error). No engine holds anything meanwhile: a
 * replica that dies loses nothing, and a long delivery does not take a work slot.
 */

/** What the engine and the activity runner use of the delivery module. */
export type WorkflowDeliveries = DeliveryActions;

export type DeliveryCheck =
  /** Still targeting or sending: look again later. */
  { kind: 'wait' } | { kind: 'done'; taskVars: Vars; note: string } | { kind: 'failed'; message: string };

/** What a look at the delivery action means for its waiting task. */
export function planDeliveryCheck(deliveryId: string, status: DeliveryActionStatus | undefined): DeliveryCheck {
  if (!status) return { kind: 'failed', message: `the delivery action ${deliveryId} no longer exists` };
  const name = `${status.internalName} (${status.deliveryId})`;
  if (status.phase === 'failed') return { kind: 'failed', message: `the delivery ${name} failed: ${status.failureText ?? 'no reason given'}` };
  if (status.phase === 'stopped') return { kind: 'failed', message: `the delivery ${name} was stopped` };
  if (status.phase !== 'finished') return { kind: 'wait' };
  return {
    kind: 'done',
    taskVars: deliveryTaskVars(status),
    note: `delivery ${name} finished: ${status.targeted} targeted, ${status.excluded} excluded, ${status.toDeliver} to deliver, ${status.success} sent, ${status.error} failed`,
  };
}

/** The indicators kept on the task (`task_vars`) once the delivery is over. */
export function deliveryTaskVars(status: DeliveryActionStatus): Vars {
  return {
    deliveryId: status.deliveryId,
    deliveryName: status.internalName,
    targeted: status.targeted,
    excluded: status.excluded,
    toDeliver: status.toDeliver,
    success: status.success,
    error: status.error,
  };
}

/** The variables the delivery activity's transitions carry: the inbound ones and the delivery's id (`vars.deliveryId`). */
export function deliveryOutputVars(inbound: Vars, deliveryId: string): Vars {
  return { ...inbound, deliveryId };
}
