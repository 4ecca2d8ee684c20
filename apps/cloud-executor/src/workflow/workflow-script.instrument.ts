import { parse } from 'acorn';

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

/** The first line of `filename` in a QuickJS stack trace (`    at f (wkf-script.js:12:5)`). */
export function lineInStack(stack: unknown, filename: string): number | undefined {
  if (typeof stack !== 'string') return undefined;
  const escaped = filename.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`${escaped}:(\\d+)`).exec(stack);
  return m ? Number(m[1]) : undefined;
}
