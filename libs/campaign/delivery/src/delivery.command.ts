import { DeliveryState } from './delivery.statuses';

/**
 * Delivery commands as state transitions of a delivery action's job, without I/O: nms:delivery#ExecCommand
 * ('play', 'pause', 'stop') and the Play, Pause and Stop methods. A paused delivery keeps its logs pending and
 * remembers the phase it was in (targeting or sending); play resumes it there. A prepared delivery (Prepare:
 * targeted, counted, waiting for confirmation) is started by play and cannot be paused. A stopped delivery is over: its
 * pending logs are never sent. Finished and failed deliveries refuse every command.
 */
export type DeliveryCommand = 'play' | 'pause' | 'stop';

/** The phases of a delivery job (cap_delivery_job.phase). */
export type DeliveryJobPhase = 'targeting' | 'sending' | 'finished' | 'failed' | 'paused' | 'stopped' | 'prepared';

export interface DeliveryJobCommandState {
  phase: DeliveryJobPhase;
  /** The phase a paused job resumes in; null unless paused. */
  pausedPhase: 'targeting' | 'sending' | null;
}

export type DeliveryCommandOutcome =
  /** `changed` false: the delivery already was where the command asks (answered with its state, not refused). */
  { ok: true; changed: boolean; job: DeliveryJobCommandState; state: number } | { ok: false; reason: string };

const SPELLINGS: Record<string, DeliveryCommand> = { play: 'play', start: 'play', resume: 'play', pause: 'pause', stop: 'stop' };

/** The command a caller names ('play', 'pause', 'stop'; 'start' and 'resume' mean play), case-insensitive. */
export function parseDeliveryCommand(text: string): DeliveryCommand | undefined {
  if (text.length > 16) return undefined;
  return SPELLINGS[text.trim().toLowerCase()];
}

/** nms:delivery @state of a job in this phase. */
export function deliveryStateOf(job: DeliveryJobCommandState): number {
  switch (job.phase) {
    case 'targeting':
      return DeliveryState.started;
    case 'sending':
      return DeliveryState.running;
    case 'prepared':
      return DeliveryState.targeted;
    case 'paused':
      return DeliveryState.paused;
    case 'stopped':
      return DeliveryState.stopped;
    case 'finished':
      return DeliveryState.finished;
    case 'failed':
      return DeliveryState.failed;
  }
}

/** What a command does to a job in its current phase. */
export function applyDeliveryCommand(job: DeliveryJobCommandState, command: DeliveryCommand): DeliveryCommandOutcome {
  const to = (next: DeliveryJobCommandState): DeliveryCommandOutcome => ({ ok: true, changed: true, job: next, state: deliveryStateOf(next) });
  const same: DeliveryCommandOutcome = { ok: true, changed: false, job, state: deliveryStateOf(job) };
  if (job.phase === 'finished') return { ok: false, reason: 'it is finished' };
  if (job.phase === 'failed') return { ok: false, reason: 'it failed' };
  if (job.phase === 'stopped') return command === 'stop' ? same : { ok: false, reason: 'it was stopped, and a stopped delivery never resumes' };
  switch (command) {
    case 'stop':
      return to({ phase: 'stopped', pausedPhase: null });
    case 'pause':
      if (job.phase === 'prepared') return { ok: false, reason: 'it is prepared and waits for confirmation: nothing is being sent (start or stop it)' };
      return job.phase === 'paused' ? same : to({ phase: 'paused', pausedPhase: job.phase });
    case 'play':
      if (job.phase === 'prepared') return to({ phase: 'sending', pausedPhase: null });
      return job.phase === 'paused' ? to({ phase: job.pausedPhase ?? 'sending', pausedPhase: null }) : same;
  }
}
