/**
 * What kafkajs 2.2.4 does while nothing happens, fixed (a service with no traffic used 4–5 % of a core;
 * docs/benchmarks.md, "Idle cost"). kafkajs is unmaintained and no release carries fixes, so these replace four
 * methods on its classes' prototypes, once per process, for the version they were written against
 * (`PATCHED_KAFKAJS_VERSION`, pinned in package.json). Everything else is kafkajs' code unchanged.
 *
 * 1. RequestQueue#scheduleCheckPendingRequests armed a timer after every response even when no request was
 *    waiting, with a negative delay (`throttledUntil` is -1): Node ran it after 1 ms and it re-armed itself for
 *    as long as the connection lived (tulios/kafkajs#1556, #1704; fix proposed in #1667, never merged). Every
 *    process woke ~1,700 times a second. Now: a timer only while requests wait, as kafkajs intended.
 * 2. RequestQueue#scheduleRequestTimeoutCheck looked for timed-out requests every min(requestTimeout, 100) ms on
 *    every open connection. Now every requestTimeout / 10, at most 1 s (the platform's requestTimeout is 10 s):
 *    a request that gets no answer fails within 10 % past its timeout instead of 1 %.
 * 3. Runner#fetch: an idle consumer long-polls. After a fetch that brought no message the next one asks the
 *    broker to wait up to the member's heartbeat interval for any byte (minBytes 1); after one that brought
 *    messages, the consumer's own maxWaitTime and minBytes again. The broker answers a waiting fetch as soon as a
 *    message arrives, so this adds no latency (the first message after a quiet spell even skips a batching
 *    consumer's minBytes wait); heartbeats, which kafkajs sends only between fetches, keep their interval, so a
 *    rebalance is noticed as soon as before. An idle member sends one fetch per heartbeat interval (1–3 s)
 *    instead of one per 50–250 ms.
 * 4. Runner#stop: a stop no longer waits for the fetch in flight (up to the wait above): it is answered at once
 *    with nothing and its connection closed, as kafkajs itself does when the broker drops one. The group is left
 *    over the other connection at once; whatever the dropped fetch would have returned is fetched again by the
 *    partition's next owner (nothing was committed for it).
 */

/** The members of kafkajs' RequestQueue (src/network/requestQueue) the patched methods use. */
interface RequestQueueInternals {
  pending: unknown[];
  inflight: Map<number, { sentAt: number; requestTimeout: number; timeoutRequest(): void }>;
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  requestTimeoutIntervalId?: NodeJS.Timeout;
  requestTimeout: number;
  enforceRequestTimeout: boolean;
  isConnected(): boolean;
  destroy(): void;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
  scheduleRequestTimeoutCheck(): void;
}

interface FetchConnection {
  rejectRequests(error: Error): void;
  disconnect(): Promise<unknown>;
}

/** The members of kafkajs' ConsumerGroup (src/consumer/consumerGroup.js) used here. */
export interface ConsumerGroupInternals {
  maxWaitTime: number;
  minBytes: number;
  cluster?: { brokerPool?: { brokers?: Record<string, { connectionPool?: { pool?: FetchConnection[] } } | undefined> } };
}

/** The members of kafkajs' Runner (src/consumer/runner.js) used here. */
export interface RunnerInternals {
  running: boolean;
  heartbeatInterval?: number;
  consumerGroup: ConsumerGroupInternals | null;
  fetch(nodeId: number): Promise<{ isEmpty(): boolean }[]>;
  stop(): Promise<void>;
}

/** The kafkajs release these patches were written against (package.json pins it). */
export const PATCHED_KAFKAJS_VERSION = '2.2.4';
/** kafkajs' own re-check delay for requests waiting behind the in-flight limit (CHECK_PENDING_REQUESTS_INTERVAL). */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;
/** Timeouts are checked ten times per request timeout, at most a second apart. */
const TIMEOUT_CHECKS_PER_TIMEOUT = 10;
const MAX_TIMEOUT_CHECK_INTERVAL_MS = 1_000;
/** kafkajs' connection pool sends Fetch requests on its second connection, everything else on the first. */
const FETCH_CONNECTION = 1;

const IDLE = Symbol('cap.idle');
const ABORTS = Symbol('cap.fetchAborts');
const OWN_SETTINGS = Symbol('cap.ownFetchSettings');

type Runner = RunnerInternals & { [IDLE]?: boolean; [ABORTS]?: Set<() => void> };
type Group = ConsumerGroupInternals & { [OWN_SETTINGS]?: { maxWaitTime: number; minBytes: number } };

let outcome: 'patched' | 'skipped' | undefined;

// kafkajs' internal classes, as kafkajs itself loads them (the same module instances its clients use).
function kafkajsVersion(): string {
  return (require('kafkajs/package.json') as { version: string }).version;
}
export function kafkajsRequestQueueClass(): { new (options: Record<string, unknown>): RequestQueueInternals; prototype: RequestQueueInternals } {
  return require('kafkajs/src/network/requestQueue');
}
export function kafkajsRunnerClass(): { prototype: RunnerInternals } {
  return require('kafkajs/src/consumer/runner');
}

/**
 * Applies the patches once per process (idempotent). 'skipped' when the installed kafkajs is not the release they
 * were written for: the unit test fails then, so whoever upgrades kafkajs looks at this file again.
 */
export function patchKafkajs(): 'patched' | 'skipped' {
  if (outcome) return outcome;
  const queue = kafkajsRequestQueueClass().prototype;
  const runner = kafkajsRunnerClass().prototype;
  const present = [queue.scheduleCheckPendingRequests, queue.scheduleRequestTimeoutCheck, runner.fetch, runner.stop].every((m) => typeof m === 'function');
  if (kafkajsVersion() !== PATCHED_KAFKAJS_VERSION || !present) return (outcome = 'skipped');
  queue.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
  queue.scheduleRequestTimeoutCheck = scheduleRequestTimeoutCheck;
  runner.fetch = idleAwareFetch(runner.fetch);
  runner.stop = stopWithoutWaitingForFetch(runner.stop);
  return (outcome = 'patched');
}

function scheduleCheckPendingRequests(this: RequestQueueInternals): void {
  // Nothing waiting: nothing to check (push() calls this again when a request has to wait).
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const untilUnthrottled = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    untilUnthrottled > 0 ? untilUnthrottled : CHECK_PENDING_REQUESTS_INTERVAL_MS,
  );
}

function scheduleRequestTimeoutCheck(this: RequestQueueInternals): void {
  if (!this.enforceRequestTimeout) return;
  this.destroy();
  const every = Math.max(1, Math.min(Math.floor(this.requestTimeout / TIMEOUT_CHECKS_PER_TIMEOUT), MAX_TIMEOUT_CHECK_INTERVAL_MS));
  this.requestTimeoutIntervalId = setInterval(() => {
    this.inflight.forEach((request) => {
      if (Date.now() - request.sentAt > request.requestTimeout) request.timeoutRequest();
    });
    if (!this.isConnected()) this.destroy();
  }, every);
}

/** The wait and minimum size of the next fetch: the consumer's own, or the idle long poll (3. above). */
export function setFetchMode(group: ConsumerGroupInternals, idle: boolean, heartbeatIntervalMs: number | undefined): void {
  const g = group as Group;
  const own = (g[OWN_SETTINGS] ??= { maxWaitTime: g.maxWaitTime, minBytes: g.minBytes });
  const idleWait = heartbeatIntervalMs ?? 0;
  if (idle && idleWait > own.maxWaitTime) {
    g.maxWaitTime = idleWait;
    g.minBytes = 1;
  } else {
    g.maxWaitTime = own.maxWaitTime;
    g.minBytes = own.minBytes;
  }
}

/** Runner#fetch with the idle long poll (3.) and a way for stop() to cut it short (4.). */
export function idleAwareFetch(original: RunnerInternals['fetch']): RunnerInternals['fetch'] {
  return async function fetch(this: RunnerInternals, nodeId: number) {
    const runner = this as Runner;
    const group = runner.consumerGroup;
    if (group) setFetchMode(group, runner[IDLE] === true, runner.heartbeatInterval);
    const fetching = original.call(runner, nodeId);
    // A fetch cut short by stop() fails later, when its connection closes: nobody waits for it any more.
    fetching.catch(() => undefined);
    const aborts = (runner[ABORTS] ??= new Set());
    let abort: () => void = () => undefined;
    const aborted = new Promise<Awaited<typeof fetching>>((resolve) => {
      abort = () => {
        resolve([]);
        if (group) closeFetchConnection(group, nodeId);
      };
    });
    aborts.add(abort);
    try {
      const batches = await Promise.race([fetching, aborted]);
      runner[IDLE] = batches.every((batch) => batch.isEmpty());
      return batches;
    } finally {
      aborts.delete(abort);
    }
  };
}

/** Runner#stop that first answers the fetches in flight with nothing (4.). */
export function stopWithoutWaitingForFetch(original: RunnerInternals['stop']): RunnerInternals['stop'] {
  return function stop(this: RunnerInternals) {
    const runner = this as Runner;
    if (runner.running) for (const abort of [...(runner[ABORTS] ?? [])]) abort();
    return original.call(runner);
  };
}

/** Fails the requests in flight on the group's fetch connection to `nodeId` and closes it (kafkajs reopens it when needed). */
function closeFetchConnection(group: ConsumerGroupInternals, nodeId: number): void {
  const connection = group.cluster?.brokerPool?.brokers?.[String(nodeId)]?.connectionPool?.pool?.[FETCH_CONNECTION];
  if (!connection) return;
  const stopped = new Error('consumer stopped while its fetch was waiting');
  stopped.name = 'CapConsumerStopped';
  connection.rejectRequests(stopped);
  connection.disconnect().catch(() => undefined);
}
