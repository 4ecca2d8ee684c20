/**
 * A metric label taken from what callers send (an API or method name) must not let them grow the label set
 * without bound: the first `max` accepted values are kept as they are, every later one becomes `other`.
 * `always` values (configured names) are kept whatever the count.
 */
export function boundedLabels(options: { max: number; always?: Iterable<string>; accept?: (value: string) => boolean }): (value: string) => string {
  const always = new Set(options.always ?? []);
  const seen = new Set<string>();
  return (value) => {
    if (always.has(value) || seen.has(value)) return value;
    if (seen.size < options.max && (options.accept?.(value) ?? true)) {
      seen.add(value);
      return value;
    }
    return 'other';
  };
}
