// Test fixture: the error a call is expected to throw.

/** An error class, its constructor public or not (XtkExpressionError's is private). */
type ErrorClass<E extends Error> = { readonly prototype: E };

/** The error of class `type` that `fn` throws: any other error is thrown again, and no error at all fails the test. */
export function thrownBy<E extends Error>(type: ErrorClass<E>, fn: () => unknown, accepted = 'accepted'): E {
  try {
    fn();
  } catch (err) {
    if (err instanceof Error && Object.prototype.isPrototypeOf.call(type.prototype, err)) return err as E;
    throw err;
  }
  throw new Error(accepted);
}
