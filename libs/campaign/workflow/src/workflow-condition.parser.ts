import type { CompareOp, ConditionNode } from './workflow.model';

/**
 * The condition of a `test` activity: a small, safe expression language over the workflow's variables.
 * Parsed once (when the workflow is validated) into a tree, evaluated by walking the tree: no `eval`, no
 * `vm`, no property access beyond the two variable maps (looked up with Object.hasOwn).
 *
 *   expr      := or
 *   or        := and ( ('||' | 'or') and )*
 *   and       := not ( ('&&' | 'and') not )*
 *   not       := ('!' | 'not') not | compare
 *   compare   := operand ( ('==' | '=' | '!=' | '<>' | '<' | '<=' | '>' | '>=') operand )?
 *   operand   := number | 'string' | "string" | true | false | variable | '(' expr ')'
 *   variable  := vars.NAME | instance.vars.NAME | $(vars/@NAME) | $(instance/vars/@NAME)
 *
 * Values are strings (variables come from XML attributes), numbers and booleans. A missing variable is the
 * empty string. `==`/`<`… compare numerically when both sides read as numbers, as text otherwise.
 */

export interface ConditionScope {
  /** Event variables (`vars.x`): what the transition that activated the task carried. */
  vars: Readonly<Record<string, string | number | boolean>>;
  /** Instance variables (`instance.vars.x`): StartWithParameters, global to the run. */
  instanceVars: Readonly<Record<string, string | number | boolean>>;
}

export class ConditionSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`${message} at position ${position + 1}`);
    this.name = 'ConditionSyntaxError';
  }
}

export const CONDITION_LIMITS = { maxLength: 2_000, maxDepth: 32 } as const;

type Token =
  | { type: 'number'; value: number; pos: number }
  | { type: 'string'; value: string; pos: number }
  | { type: 'word'; value: string; pos: number }
  | { type: 'var'; scope: 'event' | 'instance'; name: string; pos: number }
  | { type: 'op'; value: string; pos: number }
  | { type: 'end'; pos: number };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const OPERATORS = ['==', '!=', '<>', '<=', '>=', '&&', '||', '=', '<', '>', '!', '(', ')'];

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (c === "'" || c === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new ConditionSyntaxError('unterminated string', start);
        const ch = text[i]!;
        if (ch === '\\' && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
        } else if (ch === c) {
          i++;
          break;
        } else {
          value += ch;
          i++;
        }
      }
      tokens.push({ type: 'string', value, pos: start });
      continue;
    }
    const num = /^-?\d+(\.\d+)?/.exec(text.slice(i));
    if (num && (c !== '-' || isOperandExpected(tokens))) {
      tokens.push({ type: 'number', value: Number(num[0]), pos: start });
      i += num[0].length;
      continue;
    }
    if (text.startsWith('$(', i)) {
      const close = text.indexOf(')', i);
      if (close < 0) throw new ConditionSyntaxError("unterminated '$('", start);
      const path = text.slice(i + 2, close).trim();
      const m = /^(instance\/)?vars\/@([A-Za-z_][A-Za-z0-9_]*)$/.exec(path);
      if (!m) throw new ConditionSyntaxError(`'$(${path.slice(0, 40)})' is not a variable: use $(vars/@name) or $(instance/vars/@name)`, start);
      tokens.push({ type: 'var', scope: m[1] ? 'instance' : 'event', name: m[2]!, pos: start });
      i = close + 1;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/.exec(text.slice(i));
    if (word) {
      i += word[0].length;
      const parts = word[0].split('.');
      if (parts[0] === 'vars' && parts.length === 2) tokens.push({ type: 'var', scope: 'event', name: parts[1]!, pos: start });
      else if (parts[0] === 'instance' && parts[1] === 'vars' && parts.length === 3)
        tokens.push({ type: 'var', scope: 'instance', name: parts[2]!, pos: start });
      else if (parts.length === 1) tokens.push({ type: 'word', value: word[0].toLowerCase(), pos: start });
      else throw new ConditionSyntaxError(`'${word[0].slice(0, 60)}' is not a variable: use vars.name or instance.vars.name`, start);
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (!op) throw new ConditionSyntaxError(`unexpected character '${c}'`, start);
    tokens.push({ type: 'op', value: op, pos: start });
    i += op.length;
  }
  tokens.push({ type: 'end', pos: text.length });
  return tokens;
}

/** A leading '-' is a sign (not an operator) where an operand is expected. */
function isOperandExpected(tokens: Token[]): boolean {
  const last = tokens[tokens.length - 1];
  return !last || (last.type === 'op' && last.value !== ')') || (last.type === 'word' && ['and', 'or', 'not'].includes(last.value));
}

/** Parses a condition; throws ConditionSyntaxError with the position of the problem. */
export function parseCondition(text: string): ConditionNode {
  if (text.length > CONDITION_LIMITS.maxLength)
    throw new ConditionSyntaxError(`the condition is longer than ${CONDITION_LIMITS.maxLength} characters`, CONDITION_LIMITS.maxLength);
  if (text.trim() === '') throw new ConditionSyntaxError('the condition is empty', 0);
  const tokens = tokenize(text);
  let at = 0;
  const peek = () => tokens[at]!;
  const next = () => tokens[at++]!;
  const isOp = (t: Token, ...values: string[]) => t.type === 'op' && values.includes(t.value);
  const isWord = (t: Token, ...values: string[]) => t.type === 'word' && values.includes(t.value);

  const parseOr = (depth: number): ConditionNode => {
    if (depth > CONDITION_LIMITS.maxDepth) throw new ConditionSyntaxError(`the condition nests deeper than ${CONDITION_LIMITS.maxDepth} levels`, peek().pos);
    let left = parseAnd(depth);
    while (isOp(peek(), '||') || isWord(peek(), 'or')) {
      next();
      left = { kind: 'logical', op: 'or', left, right: parseAnd(depth) };
    }
    return left;
  };
  const parseAnd = (depth: number): ConditionNode => {
    let left = parseNot(depth);
    while (isOp(peek(), '&&') || isWord(peek(), 'and')) {
      next();
      left = { kind: 'logical', op: 'and', left, right: parseNot(depth) };
    }
    return left;
  };
  const parseNot = (depth: number): ConditionNode => {
    if (isOp(peek(), '!') || isWord(peek(), 'not')) {
      if (depth > CONDITION_LIMITS.maxDepth) throw new ConditionSyntaxError(`the condition nests deeper than ${CONDITION_LIMITS.maxDepth} levels`, peek().pos);
      next();
      return { kind: 'not', operand: parseNot(depth + 1) };
    }
    return parseCompare(depth);
  };
  const parseCompare = (depth: number): ConditionNode => {
    const left = parseOperand(depth);
    const t = peek();
    if (t.type === 'op' && ['==', '=', '!=', '<>', '<', '<=', '>', '>='].includes(t.value)) {
      next();
      const op: CompareOp = t.value === '=' ? '==' : t.value === '<>' ? '!=' : (t.value as CompareOp);
      return { kind: 'compare', op, left, right: parseOperand(depth) };
    }
    return left;
  };
  const parseOperand = (depth: number): ConditionNode => {
    const t = next();
    switch (t.type) {
      case 'number':
      case 'string':
        return { kind: 'literal', value: t.value };
      case 'var':
        return { kind: 'variable', scope: t.scope, name: t.name };
      case 'word':
        if (t.value === 'true' || t.value === 'false') return { kind: 'literal', value: t.value === 'true' };
        throw new ConditionSyntaxError(`unknown word '${t.value.slice(0, 40)}' (variables are written vars.name or instance.vars.name)`, t.pos);
      case 'op':
        if (t.value === '(') {
          const inner = parseOr(depth + 1);
          const close = next();
          if (!(close.type === 'op' && close.value === ')')) throw new ConditionSyntaxError("expected ')'", close.pos);
          return inner;
        }
        throw new ConditionSyntaxError(`unexpected '${t.value}'`, t.pos);
      case 'end':
        throw new ConditionSyntaxError('the condition ends too early', t.pos);
    }
  };

  const tree = parseOr(0);
  const rest = peek();
  if (rest.type !== 'end') throw new ConditionSyntaxError('unexpected text after the end of the condition', rest.pos);
  return tree;
}

type Value = string | number | boolean;

function lookup(map: Readonly<Record<string, Value>>, name: string): Value {
  if (!NAME.test(name) || !Object.hasOwn(map, name)) return '';
  const v = map[name];
  return typeof v === 'number' || typeof v === 'boolean' ? v : String(v);
}

function toNumber(v: Value): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return undefined;
  const t = v.trim();
  if (t === '' || !/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(t)) return undefined;
  return Number(t);
}

/** Truth of a value: false, 0, '', '0' and 'false' are false. */
export function isTruthy(v: Value): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0 && !Number.isNaN(v);
  const t = v.trim().toLowerCase();
  return t !== '' && t !== '0' && t !== 'false';
}

function compare(op: CompareOp, a: Value, b: Value): boolean {
  let diff: number;
  if (typeof a === 'boolean' || typeof b === 'boolean') {
    const x = isTruthy(a);
    const y = isTruthy(b);
    if (op === '==') return x === y;
    if (op === '!=') return x !== y;
    diff = Number(x) - Number(y);
  } else {
    const x = toNumber(a);
    const y = toNumber(b);
    if (x !== undefined && y !== undefined) diff = x - y;
    else {
      const s = String(a);
      const t = String(b);
      diff = s === t ? 0 : s < t ? -1 : 1;
    }
  }
  switch (op) {
    case '==':
      return diff === 0;
    case '!=':
      return diff !== 0;
    case '<':
      return diff < 0;
    case '<=':
      return diff <= 0;
    case '>':
      return diff > 0;
    case '>=':
      return diff >= 0;
  }
}

function evaluate(node: ConditionNode, scope: ConditionScope): Value {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'variable':
      return lookup(node.scope === 'event' ? scope.vars : scope.instanceVars, node.name);
    case 'not':
      return !isTruthy(evaluate(node.operand, scope));
    case 'logical':
      return node.op === 'and'
        ? isTruthy(evaluate(node.left, scope)) && isTruthy(evaluate(node.right, scope))
        : isTruthy(evaluate(node.left, scope)) || isTruthy(evaluate(node.right, scope));
    case 'compare':
      return compare(node.op, evaluate(node.left, scope), evaluate(node.right, scope));
  }
}

/** Evaluates a parsed condition to true or false. */
export function evaluateCondition(node: ConditionNode, scope: ConditionScope): boolean {
  return isTruthy(evaluate(node, scope));
}
