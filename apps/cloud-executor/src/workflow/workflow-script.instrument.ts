import { parse, type Token } from 'acorn';

/**
 * Where a runaway loop is. QuickJS's stack trace of an interrupted script points at the start of the running
 * function (it records positions at calls and property accesses, not at loop heads), so a script stopped by
 * its CPU limit in `while (true) { n++ }` would be reported at the wrong line. Each loop body therefore starts
 * with `__capLoopLine=<line of the loop>;` (same line, no new lines: every other position keeps its line
 * number), and the sandbox reads that global when it stops a script.
 */
export const LOOP_LINE_GLOBAL = '__capLoopLine';

interface AstNode {
  type: string;
  start: number;
  end: number;
  loc?: { start: { line: number } };
  body?: unknown;
  [key: string]: unknown;
}

const LOOPS = new Set(['WhileStatement', 'DoWhileStatement', 'ForStatement', 'ForInStatement', 'ForOfStatement']);

function isNode(v: unknown): v is AstNode {
  return typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string' && typeof (v as { start?: unknown }).start === 'number';
}

/**
 * Returns the script with every loop body prefixed by the loop-line marker, or the script unchanged when it
 * does not parse (QuickJS then reports the syntax error, with its own line number).
 */
export function instrumentLoops(source: string): string {
  let program: AstNode;
  try {
    program = parse(source, { ecmaVersion: 'latest', sourceType: 'script', locations: true }) as unknown as AstNode;
  } catch {
    return source;
  }
  const inserts: { at: number; text: string; order: number }[] = [];
  const stack: AstNode[] = [program];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (LOOPS.has(node.type) && isNode(node.body)) {
      const body = node.body;
      const mark = `${LOOP_LINE_GLOBAL}=${node.loc!.start.line};`;
      if (body.type === 'BlockStatement') inserts.push({ at: body.start + 1, text: mark, order: 1 });
      else {
        inserts.push({ at: body.start, text: `{${mark}`, order: 0 });
        inserts.push({ at: body.end, text: '}', order: 2 });
      }
    }
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) {
        for (const item of value) if (isNode(item)) stack.push(item);
      } else if (isNode(value)) stack.push(value);
    }
  }
  if (inserts.length === 0) return source;
  // Apply from the end so earlier positions stay valid; at one position, closing braces go before openings.
  inserts.sort((a, b) => b.at - a.at || a.order - b.order);
  let out = source;
  for (const ins of inserts) out = out.slice(0, ins.at) + ins.text + out.slice(ins.at);
  return out;
}

/**
 * Async functions whose rejection nothing handles. QuickJS gives the host no rejection tracker (and the promise
 * of an async function is QuickJS's own, which no script-side code can watch), so each async function is
 * rewritten into a plain function of the same name and place that runs the original body as an async arrow
 * and hands its promise to `__capAsync` (defined by workflow-script.prelude.ts), which watches it:
 *
 *   async function f(a, b) { body }   →   function f() { return __capAsync(arguments, async (a, b) => { body }); }
 *   async (a) => expr                 →   (...__capArgs) => __capAsync(__capArgs, async (a) => expr)
 *
 * Methods (`async m() {}`, in objects and classes) are rewritten like functions. `this`, `arguments`, `super` and
 * the name keep their meaning (arrows take them from the plain function); only `length` becomes 0. Text is only
 * inserted or removed within lines: every line keeps its number. Async generators are left alone.
 */
export const ASYNC_CALL_GLOBAL = '__capAsync';
const ASYNC_ARGS = '__capArgs';

interface Edit {
  at: number;
  /** Characters replaced from `at` (0: an insertion). */
  remove: number;
  text: string;
  /** At one position, lower ranks come first in the result. */
  rank: number;
}

/**
 * Returns the script with its async functions rewritten as above, or unchanged when it has none or does not
 * parse (QuickJS then reports the syntax error).
 */
export function trackAsyncFunctions(source: string): string {
  const tokens: Token[] = [];
  let program: AstNode;
  try {
    program = parse(source, { ecmaVersion: 'latest', sourceType: 'script', onToken: tokens }) as unknown as AstNode;
  } catch {
    return source;
  }
  if (!/\basync\b/.test(source)) return source;
  const isAsyncWord = (t: Token) => t.type.label === 'name' && source.slice(t.start, t.end) === 'async';
  /** The index of the first token starting at or after `from`. */
  const indexAt = (from: number): number => {
    let lo = 0;
    let hi = tokens.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (tokens[mid]!.start < from) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  /** The first token of type `label` in [from, to). */
  const tokenIn = (from: number, to: number, label: string): Token | undefined => {
    for (let i = indexAt(from); i < tokens.length && tokens[i]!.start < to; i++) if (tokens[i]!.type.label === label) return tokens[i];
    return undefined;
  };
  /** The last `async` word in [from, to): the modifier of a method. */
  const asyncWordIn = (from: number, to: number): Token | undefined => {
    let found: Token | undefined;
    for (let i = indexAt(from); i < tokens.length && tokens[i]!.start < to; i++) if (isAsyncWord(tokens[i]!)) found = tokens[i];
    return found;
  };
  const edits: Edit[] = [];
  /** A function (declaration, expression or method value) whose `async` keyword is `asyncToken`. */
  const rewriteFunction = (fn: AstNode, asyncToken: Token | undefined, depth: number) => {
    const params = fn['params'] as AstNode[];
    const body = fn['body'] as AstNode;
    const open = tokenIn(fn.start, body.start, '(');
    // The ')' closing the parameters: the first one after the last parameter.
    const close = open && tokenIn(params.length > 0 ? params[params.length - 1]!.end : open.end, body.start, ')');
    if (!asyncToken || !open || !close) return;
    edits.push({ at: asyncToken.start, remove: asyncToken.end - asyncToken.start, text: '', rank: 0 });
    edits.push({ at: open.start, remove: 0, text: `() { return ${ASYNC_CALL_GLOBAL}(arguments, async `, rank: depth });
    edits.push({ at: close.end, remove: 0, text: ' =>', rank: depth });
    edits.push({ at: fn.end, remove: 0, text: '); }', rank: -10_000 - depth });
  };
  const rewriteArrow = (fn: AstNode, depth: number) => {
    edits.push({ at: fn.start, remove: 0, text: `(...${ASYNC_ARGS}) => ${ASYNC_CALL_GLOBAL}(${ASYNC_ARGS}, `, rank: depth });
    edits.push({ at: fn.end, remove: 0, text: ')', rank: -10_000 - depth });
  };
  const isAsyncFunction = (v: unknown): v is AstNode => isNode(v) && v['async'] === true && v['generator'] !== true;

  const stack: { node: AstNode; depth: number }[] = [{ node: program, depth: 0 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (
      (node.type === 'Property' || node.type === 'MethodDefinition') &&
      isAsyncFunction(node['value']) &&
      (node['method'] === true || node.type === 'MethodDefinition')
    ) {
      const key = node['key'] as AstNode;
      rewriteFunction(node['value'] as AstNode, asyncWordIn(node.start, key.start), depth);
      // The value is rewritten here, not again when it is visited.
      (node['value'] as AstNode)['async'] = false;
    } else if ((node.type === 'FunctionDeclaration' || node.type === 'FunctionExpression') && isAsyncFunction(node)) {
      const first = tokens[indexAt(node.start)];
      rewriteFunction(node, first && first.start === node.start && isAsyncWord(first) ? first : undefined, depth);
    } else if (node.type === 'ArrowFunctionExpression' && isAsyncFunction(node)) rewriteArrow(node, depth);
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) {
        for (const item of value) if (isNode(item)) stack.push({ node: item, depth: depth + 1 });
      } else if (isNode(value)) stack.push({ node: value, depth: depth + 1 });
    }
  }
  if (edits.length === 0) return source;
  // Applied from the end; at one position the edit that must come last in the text is applied first.
  edits.sort((a, b) => b.at - a.at || b.rank - a.rank);
  let out = source;
  for (const e of edits) out = out.slice(0, e.at) + e.text + out.slice(e.at + e.remove);
  return out;
}

/** The first line of `filename` in a QuickJS stack trace (`    at f (wkf-script.js:12:5)`). */
export function lineInStack(stack: unknown, filename: string): number | undefined {
  if (typeof stack !== 'string') return undefined;
  const escaped = filename.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`${escaped}:(\\d+)`).exec(stack);
  return m ? Number(m[1]) : undefined;
}
