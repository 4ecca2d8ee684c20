export interface GroupCommitQueueOptions<I, R> {
  /** Most items committed together (1 turns grouping off: every item runs alone). */
  maxBatch: number;
  /** Groups running at once; items arriving meanwhile wait and go together in the next one. */
  maxConcurrent: number;
  /** One item in a transaction of its own. */
  alone(item: I): Promise<R>;
  /** Several items in ONE transaction; resolves with each item's result, in order. */
  together(items: I[]): Promise<R[]>;
  /**
   * True when a failed group certainly committed nothing (an error raised before its COMMIT: a refused row,
   * a check of the caller's own, a deadlock): each item then runs again alone, for its own outcome. False (a
   * connection lost, perhaps during COMMIT) fails every item of the group as a lone item would have failed.
   */
  rolledBack(err: unknown): boolean;
  /** The error of an item whose caller stopped waiting before its group began. */
  expired(): Error;
}

export interface GroupCommitQueue<I, R> {
  /**
   * Runs one item, grouped with those that arrive while `maxConcurrent` groups run; resolves once the COMMIT
   * that holds it is done. An item still waiting when `deadline` (epoch ms) has passed is not run at all.
   */
  run(item: I, deadline?: number): Promise<R>;
}

interface Queued<I, R> {
  item: I;
  deadline: number | undefined;
  resolve(result: R): void;
  reject(err: unknown): void;
}

/**
 * Group commit: while `maxConcurrent` transactions are running, the unitary items that arrive wait and are
 * then applied together in one transaction — one BEGIN, one COMMIT and one WAL flush for all of them instead
 * of one each. A lone item (a quiet system) runs at once, so nothing waits for a batch to fill. Each item
 * stays atomic and independent: a group that fails is retried item by item (see `rolledBack`), so a faulty
 * item gets its own error and the others land.
 */
export function createGroupCommitQueue<I, R>(options: GroupCommitQueueOptions<I, R>): GroupCommitQueue<I, R> {
  const queue: Queued<I, R>[] = [];
  let running = 0;

  const runGroup = async (waited: Queued<I, R>[]) => {
    // A caller that has stopped waiting was told its call timed out: applying its item now would make a
    // change it believes failed. Dropped before its transaction begins, it is not half-anything.
    const now = Date.now();
    const group = waited.filter((entry) => {
      if (entry.deadline === undefined || entry.deadline > now) return true;
      entry.reject(options.expired());
      return false;
    });
    if (group.length === 0) return;
    if (group.length === 1) {
      const [only] = group;
      await options.alone(only!.item).then(only!.resolve, only!.reject);
      return;
    }
    let results: R[];
    try {
      results = await options.together(group.map((entry) => entry.item));
    } catch (err) {
      if (!options.rolledBack(err)) {
        for (const entry of group) entry.reject(err);
        return;
      }
      await Promise.all(group.map((entry) => options.alone(entry.item).then(entry.resolve, entry.reject)));
      return;
    }
    group.forEach((entry, i) => entry.resolve(results[i]!));
  };

  const pump = () => {
    while (running < options.maxConcurrent && queue.length > 0) {
      const group = queue.splice(0, Math.max(1, options.maxBatch));
      running++;
      void runGroup(group).finally(() => {
        running--;
        pump();
      });
    }
  };

  return {
    run(item, deadline) {
      if (options.maxBatch <= 1) return options.alone(item);
      return new Promise<R>((resolve, reject) => {
        queue.push({ item, deadline, resolve, reject });
        pump();
      });
    },
  };
}
