/**
 * `fn` run once and its result shared by every caller, except that a failure is not kept: the callers
 * waiting on that attempt get its error, and the next call tries again (a directory that appears later, a
 * render that failed for want of memory) instead of failing until a restart.
 */
export function memoUntilFailure<T>(fn: () => Promise<T>): () => Promise<T> {
  let attempt: Promise<T> | undefined;
  return () =>
    (attempt ??= fn().catch((err: unknown) => {
      attempt = undefined;
      throw err;
    }));
}
