import { Writable } from 'node:stream';
import { createLogger } from '@cap/platform-logger';
import { startWorkflowTimer } from './workflow-timer.worker';
import type { WorkflowEngine } from './workflow.engine';

const logger = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const until = (probe: () => boolean) =>
  new Promise<void>((resolve) => {
    const check = () => (probe() ? resolve() : setTimeout(check, 2));
    check();
  });

/** An engine whose tick records when it ran and answers what `answer` says. */
function fakeEngine(answer: () => { busy: boolean; nextDueAt?: Date }) {
  const ticks: number[] = [];
  const engine = { tick: async () => (ticks.push(Date.now()), answer()) } as unknown as WorkflowEngine;
  return { engine, ticks, gaps: () => ticks.slice(1).map((t, i) => t - ticks[i]!) };
}

describe('workflow timer loop', () => {
  it('when passes keep finding work, then they run every interval', async () => {
    const { engine, ticks, gaps } = fakeEngine(() => ({ busy: true }));
    const timer = startWorkflowTimer({ engine, intervalMs: 10, logger });
    await until(() => ticks.length >= 6);
    await timer.stop();
    expect(Math.max(...gaps())).toBeLessThan(60);
  });

  it('when passes find nothing and nothing is due, then they come further and further apart, up to ten intervals', async () => {
    const { engine, ticks, gaps } = fakeEngine(() => ({ busy: false }));
    const timer = startWorkflowTimer({ engine, intervalMs: 10, logger });
    await until(() => ticks.length >= 7);
    await timer.stop();
    const g = gaps();
    // 10, 20, 40, 80, 100, 100 ms: timers fire late, never early.
    expect(g[2]).toBeGreaterThanOrEqual(38);
    expect(g[4]).toBeGreaterThanOrEqual(98);
    expect(g[5]).toBeGreaterThanOrEqual(98);
  });

  it('when a wait is due before the idle sleep would end, then the next pass comes when it is due', async () => {
    let dueAt: Date | undefined;
    const { engine, ticks, gaps } = fakeEngine(() =>
      ticks.length === 6 ? ((dueAt = new Date(Date.now() + 30)), { busy: false, nextDueAt: dueAt }) : { busy: false },
    );
    const timer = startWorkflowTimer({ engine, intervalMs: 10, logger });
    await until(() => ticks.length >= 7);
    await timer.stop();
    // After five idle passes the sleep is 100 ms; the wait due in 30 ms brings the seventh pass forward.
    expect(gaps()[5]).toBeGreaterThanOrEqual(28);
    expect(gaps()[5]).toBeLessThan(90);
  });

  it('when woken (a command started work), then a pass runs at once and the interval is short again', async () => {
    const { engine, ticks } = fakeEngine(() => ({ busy: false }));
    const timer = startWorkflowTimer({ engine, intervalMs: 10, logger });
    await until(() => ticks.length >= 6); // asleep for 100 ms now
    const wokenAt = Date.now();
    timer.wake();
    await until(() => ticks.length >= 7);
    await timer.stop();
    expect(ticks[6]! - wokenAt).toBeLessThan(60);
  });
});
