/** A counting gate: `enter` resolves with a release function, or undefined when the waiting line is full. */
export function createGate(atOnce: number, waiting: number): { enter(): Promise<(() => void) | undefined> } {
  let running = 0;
  const line: (() => void)[] = [];
  const release = () => {
    const next = line.shift();
    if (next) next();
    else running--;
  };
  return {
    async enter() {
      if (running < atOnce) {
        running++;
        return once(release);
      }
      if (line.length >= waiting) return undefined;
      await new Promise<void>((resolve) => line.push(resolve));
      return once(release);
    },
  };
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      fn();
    }
  };
}
