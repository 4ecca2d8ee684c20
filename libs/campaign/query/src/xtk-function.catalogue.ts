/**
 * The allow-list of XTK functions: anything else in an expression is refused (`Unknown function`). Each
 * entry fixes the arity; how a function becomes SQL lives in the expression compiler, next to the types.
 */
export interface XtkFunction {
  /** Canonical spelling (names are matched case-insensitively). */
  readonly name: string;
  readonly minArgs: number;
  readonly maxArgs: number;
  /** Aggregates (Count, Sum…) are allowed in select, having and orderBy, not in where. */
  readonly aggregate: boolean;
}

const fn = (name: string, minArgs: number, maxArgs = minArgs, aggregate = false): XtkFunction => ({ name, minArgs, maxArgs, aggregate });

const LIST: readonly XtkFunction[] = [
  fn('Lower', 1),
  fn('Upper', 1),
  fn('Trim', 1),
  fn('LTrim', 1),
  fn('RTrim', 1),
  fn('Substring', 3),
  fn('Length', 1),
  fn('Len', 1),
  fn('Year', 1),
  fn('Month', 1),
  fn('Day', 1),
  fn('Hour', 1),
  fn('GetDate', 0),
  fn('DateOnly', 1),
  fn('Count', 1, 1, true),
  fn('CountDistinct', 1, 1, true),
  fn('countall', 0, 0, true),
  fn('Sum', 1, 1, true),
  fn('Avg', 1, 1, true),
  fn('Min', 1, 1, true),
  fn('Max', 1, 1, true),
  fn('Iif', 3),
  fn('IsNull', 2),
  fn('GetEmailDomain', 1),
  fn('Abs', 1),
  fn('Round', 1, 2),
  fn('Coalesce', 2, 32),
];

/** Lower-cased name → function. */
export const XTK_FUNCTIONS: ReadonlyMap<string, XtkFunction> = new Map(LIST.map((f) => [f.name.toLowerCase(), f]));
