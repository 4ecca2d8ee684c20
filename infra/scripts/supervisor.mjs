// Keeps a set of child processes running (used by `npm start` through infra/scripts/services.mjs). A child
// that ends without being asked to (a crash, a kill, any exit code) is started again after a backoff: one
// line says which service, how it ended, which attempt and after what delay; another says when it is ready
// again. stop() ends every child and restarts nothing. No I/O of its own: the caller says how to launch a
// child, how to probe its readiness and where lines go. Node built-ins only (runs before `npm ci`).
// Tests: infra/test/supervisor.test.ts (fake children), infra/test/supervisor.int.test.ts (the services).

/**
 * `npm start`'s policy. A death waits 1 s, then 2, 4, 8, 16 and 30 s for each further death in a row; a run
 * that is ready and stays up 60 s ends the row. After 5 deaths in a row one line says the service keeps
 * failing; it is still restarted every 30 s (a database or broker that comes back, or a rebuilt bundle,
 * brings it back without restarting everything).
 */
export const DEFAULT_POLICY = Object.freeze({
  initialDelayMs: 1_000,
  maxDelayMs: 30_000,
  resetAfterMs: 60_000,
  keepsFailingAfter: 5,
  readyPollMs: 300,
  readyTimeoutMs: 60_000,
  stopTimeoutMs: 20_000,
});

/** The wait before restart number `failures` of a row (1-based): doubling from initialDelayMs, capped. */
export function restartDelayMs(failures, policy = DEFAULT_POLICY) {
  const doublings = Math.min(Math.max(0, failures - 1), 30);
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** doublings);
}

/** How a child ended, as Node reports it on 'exit'. */
export function describeExit(code, signal) {
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}

export function formatDuration(ms) {
  if (ms < 999.5) return `${Math.round(ms)} ms`;
  if (ms < 59_950) return `${Number((ms / 1_000).toFixed(1))} s`;
  const seconds = Math.round(ms / 1_000);
  return `${Math.floor(seconds / 60)} min${seconds % 60 ? ` ${seconds % 60} s` : ''}`;
}

export function createSupervisor({ services, launch, isReady, log, policy: overrides = {} }) {
  const policy = { ...DEFAULT_POLICY, ...overrides };
  const states = new Map(
    services.map((service) => [
      service.name,
      { service, run: undefined, ready: false, failures: 0, restarts: 0, diedAt: 0, restartTimer: undefined, stableTimer: undefined, waiters: new Set() },
    ]),
  );
  let started = false;
  let stopping = false;
  let stopped;

  const getState = (name) => {
    const state = states.get(name);
    if (!state) throw new Error(`the supervisor has no service named ${name}`);
    return state;
  };

  function startRun(state) {
    state.restartTimer = undefined;
    if (stopping) return;
    state.ready = false;
    let resolveEnded;
    const ended = new Promise((resolve) => (resolveEnded = resolve));
    const run = { attempt: state.failures, startedAt: Date.now(), child: undefined, exited: false, ended, resolveEnded };
    state.run = run;
    try {
      run.child = launch(state.service);
    } catch (err) {
      endRun(state, run, `could not be started: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    run.child.once('exit', (code, signal) => endRun(state, run, describeExit(code, signal)));
    // A child that could not be spawned at all reports 'error' and may never report 'exit'; other errors
    // (a failed kill) leave it running.
    run.child.on('error', (err) => {
      if (run.child.pid === undefined) endRun(state, run, `could not be started: ${err.message}`);
    });
    void pollReadiness(state, run);
  }

  function endRun(state, run, how) {
    if (run.exited) return;
    run.exited = true;
    run.resolveEnded();
    clearTimeout(state.stableTimer);
    state.ready = false;
    if (stopping || state.run !== run) return;
    const name = state.service.name;
    state.failures += 1;
    state.restarts += 1;
    state.diedAt = Date.now();
    const delay = restartDelayMs(state.failures, policy);
    log(
      `${name} exited (${how}) after ${formatDuration(state.diedAt - run.startedAt)}; restarting it in ${formatDuration(delay)} (attempt ${state.failures})`,
      'exited',
    );
    if (state.failures === policy.keepsFailingAfter) {
      log(
        `${name} keeps failing: ${state.failures} exits in a row, none stayed ready for ${formatDuration(policy.resetAfterMs)} (last: ${how}). ` +
          `Still restarting it, backing off to one attempt every ${formatDuration(policy.maxDelayMs)}; its log lines above say why. Ctrl-C stops everything`,
        'failing',
      );
    }
    state.restartTimer = setTimeout(() => startRun(state), delay);
  }

  async function pollReadiness(state, run) {
    const isCurrent = () => !stopping && state.run === run && !run.exited;
    let reportedSlow = false;
    while (isCurrent()) {
      let ready = false;
      try {
        ready = await isReady(state.service);
      } catch {
        // not answering yet
      }
      if (!isCurrent()) return;
      if (ready) {
        markReady(state, run);
        return;
      }
      const waited = Date.now() - run.startedAt;
      // The first start's summary is printed by the caller (waitUntilReady); restarts are reported here.
      if (!reportedSlow && run.attempt > 0 && waited >= policy.readyTimeoutMs) {
        reportedSlow = true;
        log(
          `${state.service.name} is not ready ${formatDuration(waited)} after restart attempt ${run.attempt}; still waiting for it (see its log lines)`,
          'waiting',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, policy.readyPollMs));
    }
  }

  function markReady(state, run) {
    state.ready = true;
    for (const resolve of [...state.waiters]) resolve(true);
    const name = state.service.name;
    const now = Date.now();
    if (run.attempt > 0) {
      log(`${name} is ready again (attempt ${run.attempt}, pid ${run.child.pid}), ${formatDuration(now - state.diedAt)} after it exited`, 'ready');
    } else if (now - run.startedAt >= policy.readyTimeoutMs) {
      log(`${name} is ready, ${formatDuration(now - run.startedAt)} after it started`, 'ready');
    }
    // Up and ready long enough: the next death starts the backoff from the beginning again.
    state.stableTimer = setTimeout(() => {
      if (state.run === run && !run.exited) state.failures = 0;
    }, policy.resetAfterMs);
    state.stableTimer.unref();
  }

  return {
    start() {
      if (started) throw new Error('the supervisor is already started');
      started = true;
      for (const state of states.values()) startRun(state);
    },

    waitUntilReady(name, timeoutMs) {
      const state = getState(name);
      if (state.ready) return Promise.resolve(true);
      if (stopping) return Promise.resolve(false);
      return new Promise((resolve) => {
        const settle = (ready) => {
          clearTimeout(timer);
          state.waiters.delete(settle);
          resolve(ready);
        };
        const timer = setTimeout(() => settle(false), timeoutMs);
        state.waiters.add(settle);
      });
    },

    status(name) {
      const state = getState(name);
      const child = state.run?.exited ? undefined : state.run?.child;
      return {
        pid: child?.pid,
        ready: state.ready,
        attempt: state.run?.attempt ?? 0,
        failuresInARow: state.failures,
        restarts: state.restarts,
        restartPending: state.restartTimer !== undefined,
      };
    },

    stop() {
      if (stopped) return stopped;
      stopping = true;
      const live = [];
      for (const state of states.values()) {
        clearTimeout(state.restartTimer);
        state.restartTimer = undefined;
        clearTimeout(state.stableTimer);
        for (const resolve of [...state.waiters]) resolve(false);
        if (state.run?.child && !state.run.exited) live.push(state.run);
      }
      for (const run of live) run.child.kill('SIGTERM');
      const force = setTimeout(() => live.filter((run) => !run.exited).forEach((run) => run.child.kill('SIGKILL')), policy.stopTimeoutMs);
      stopped = Promise.all(live.map((run) => run.ended)).then(() => clearTimeout(force));
      return stopped;
    },
  };
}
