import { applyDeliveryCommand, deliveryStateOf, parseDeliveryCommand } from './delivery.command';
import { DeliveryState } from './delivery.statuses';

describe('delivery commands (pause, play, stop) as state transitions', () => {
  it('when a running delivery is paused, then it is paused and remembers where it was; play resumes it there', () => {
    const paused = applyDeliveryCommand({ phase: 'sending', pausedPhase: null }, 'pause');
    expect(paused).toEqual({ ok: true, changed: true, job: { phase: 'paused', pausedPhase: 'sending' }, state: DeliveryState.paused });
    expect(applyDeliveryCommand(paused.ok ? paused.job : { phase: 'failed', pausedPhase: null }, 'play')).toEqual({
      ok: true,
      changed: true,
      job: { phase: 'sending', pausedPhase: null },
      state: DeliveryState.running,
    });
    const whileTargeting = applyDeliveryCommand({ phase: 'targeting', pausedPhase: null }, 'pause');
    expect(whileTargeting.ok && whileTargeting.job).toEqual({ phase: 'paused', pausedPhase: 'targeting' });
    expect(applyDeliveryCommand({ phase: 'paused', pausedPhase: 'targeting' }, 'play')).toMatchObject({
      job: { phase: 'targeting' },
      state: DeliveryState.started,
    });
  });

  it('when a command asks for the state the delivery is already in, then nothing changes and it is not refused', () => {
    expect(applyDeliveryCommand({ phase: 'paused', pausedPhase: 'sending' }, 'pause')).toEqual({
      ok: true,
      changed: false,
      job: { phase: 'paused', pausedPhase: 'sending' },
      state: DeliveryState.paused,
    });
    expect(applyDeliveryCommand({ phase: 'sending', pausedPhase: null }, 'play')).toMatchObject({ ok: true, changed: false, state: DeliveryState.running });
    expect(applyDeliveryCommand({ phase: 'stopped', pausedPhase: null }, 'stop')).toMatchObject({ ok: true, changed: false, state: DeliveryState.stopped });
  });

  it('when a delivery is stopped, then it can never be resumed or paused again', () => {
    for (const phase of ['targeting', 'sending', 'paused'] as const) {
      expect(applyDeliveryCommand({ phase, pausedPhase: phase === 'paused' ? 'sending' : null }, 'stop')).toEqual({
        ok: true,
        changed: true,
        job: { phase: 'stopped', pausedPhase: null },
        state: DeliveryState.stopped,
      });
    }
    expect(applyDeliveryCommand({ phase: 'stopped', pausedPhase: null }, 'play')).toEqual({
      ok: false,
      reason: 'it was stopped, and a stopped delivery never resumes',
    });
    expect(applyDeliveryCommand({ phase: 'stopped', pausedPhase: null }, 'pause')).toMatchObject({ ok: false });
  });

  it('when a delivery is prepared (analysed, waiting for confirmation), then play sends it, stop ends it and pause is refused', () => {
    const prepared = { phase: 'prepared', pausedPhase: null } as const;
    expect(applyDeliveryCommand(prepared, 'play')).toEqual({
      ok: true,
      changed: true,
      job: { phase: 'sending', pausedPhase: null },
      state: DeliveryState.running,
    });
    expect(applyDeliveryCommand(prepared, 'stop')).toEqual({
      ok: true,
      changed: true,
      job: { phase: 'stopped', pausedPhase: null },
      state: DeliveryState.stopped,
    });
    expect(applyDeliveryCommand(prepared, 'pause')).toMatchObject({ ok: false, reason: expect.stringContaining('waits for confirmation') });
    expect(deliveryStateOf(prepared)).toBe(DeliveryState.targeted);
  });

  it('when a delivery is finished or failed, then every command is refused with the reason', () => {
    for (const command of ['pause', 'play', 'stop'] as const) {
      expect(applyDeliveryCommand({ phase: 'finished', pausedPhase: null }, command)).toEqual({ ok: false, reason: 'it is finished' });
      expect(applyDeliveryCommand({ phase: 'failed', pausedPhase: null }, command)).toEqual({ ok: false, reason: 'it failed' });
    }
  });

  it('when a command is named, then Campaign spellings are read and anything else is refused', () => {
    expect(parseDeliveryCommand('play')).toBe('play');
    expect(parseDeliveryCommand(' Pause ')).toBe('pause');
    expect(parseDeliveryCommand('STOP')).toBe('stop');
    expect(parseDeliveryCommand('start')).toBe('play');
    expect(parseDeliveryCommand('resume')).toBe('play');
    expect(parseDeliveryCommand('delete')).toBeUndefined();
    expect(parseDeliveryCommand('')).toBeUndefined();
    expect(parseDeliveryCommand('x'.repeat(10_000))).toBeUndefined();
  });
});
