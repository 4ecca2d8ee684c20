import type { ArithmeticOp, ComparisonOp, ExprNode, PathNode } from './xtk-expression.ast';
import { XtkExpressionError } from './xtk-expression.error';
import { XTK_FUNCTIONS } from './xtk-function.catalogue';
import { tokenizeExpression, type Token } from './xtk-expression.tokenizer';

export interface ParseOptions {
  /** Longest expression accepted, in characters (default 65,536). */
  maxLength?: number;
  /** Deepest nesting of parentheses, calls and operators (default 64). */
  maxDepth?: number;
}

export const DEFAULT_MAX_EXPRESSION_LENGTH = 65_536;
export const DEFAULT_MAX_EXPRESSION_DEPTH = 64;

/** Words of SQL that are never part of an XTK expression: named in the error instead of "unknown attribute". */
const SQL_WORDS = new Set(
  'SELECT UNION INTERSECT EXCEPT FROM WHERE INSERT UPDATE DELETE DROP ALTER CREATE TRUNCATE GRANT REVOKE COPY EXEC EXECUTE CALL DO DECLARE BEGIN COMMIT ROLLBACK INTO VALUES JOIN ON AS CAST CASE WHEN THEN ELSE END HAVING GROUP ORDER BY LIMIT OFFSET DISTINCT ALL ANY SOME EXISTS BETWEEN SIMILAR ILIKE RETURNING WITH SET'.split(
    ' ',
  ),
);

// Binding powers (higher binds tighter).
const BP_OR = 10;
const BP_AND = 20;
const BP_NOT = 30;
const BP_COMPARE = 40;
const BP_ADD = 50;
const BP_MUL = 60;
const BP_UNARY = 70;

const COMPARISONS: Record<string, ComparisonOp> = { '=': '=', '<>': '<>', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };

function depthOf(node: ExprNode): number {
  switch (node.kind) {
    case 'literal':
    case 'null':
    case 'path':
      return 1;
    case 'call':
      return 1 + node.args.reduce((m, a) => Math.max(m, depthOf(a)), 0);
    case 'unary':
      return 1 + depthOf(node.operand);
    case 'binary':
      return 1 + Math.max(depthOf(node.left), depthOf(node.right));
    case 'logical':
      return 1 + node.operands.reduce((m, a) => Math.max(m, depthOf(a)), 0);
    case 'like':
      return 1 + Math.max(depthOf(node.operand), depthOf(node.pattern));
    case 'in':
      return 1 + node.items.reduce((m, a) => Math.max(m, depthOf(a)), depthOf(node.operand));
    case 'isNull':
      return 1 + depthOf(node.operand);
  }
}

class Parser {
  private i = 0;
  private depth = 0;
  // Depth of each node built, so left-deep chains (`1+1+1+…`) are capped like parentheses are.
  private readonly depths = new WeakMap<ExprNode, number>();

  constructor(
    private readonly expr: string,
    private readonly tokens: Token[],
    private readonly maxDepth: number,
  ) {}

  parse(): ExprNode {
    const node = this.expression(0);
    const t = this.peek();
    if (t.kind !== 'eof') this.unexpected(t);
    return node;
  }

  private peek(): Token {
    return this.tokens[this.i]!;
  }

  private next(): Token {
    return this.tokens[this.i++]!;
  }

  private fail(what: string, pos: number, token = ''): never {
    throw XtkExpressionError.syntax(this.expr, what, pos, token);
  }

  private tokenText(t: Token): string {
    switch (t.kind) {
      case 'name':
        return t.value;
      case 'path':
        return t.text;
      case 'op':
        return t.value;
      case 'string':
        return `'${t.value}'`;
      case 'number':
      case 'date':
        return t.value;
      case 'eof':
        return '';
    }
  }

  private unexpected(t: Token): never {
    if (t.kind === 'eof') this.fail('unexpected end of expression', t.pos);
    if (t.kind === 'name' && SQL_WORDS.has(t.value.toUpperCase())) this.fail(`SQL keyword '${t.value}' is not allowed`, t.pos, t.value);
    const text = this.tokenText(t);
    this.fail(`unexpected '${text.length > 40 ? `${text.slice(0, 40)}…` : text}'`, t.pos, text);
  }

  private keyword(t: Token): string | undefined {
    return t.kind === 'name' ? t.value.toUpperCase() : undefined;
  }

  private expectOp(value: string): Token {
    const t = this.next();
    if (t.kind !== 'op' || t.value !== value) {
      if (t.kind === 'eof') this.fail(`expected '${value}'`, t.pos);
      this.fail(`expected '${value}' instead of '${this.tokenText(t)}'`, t.pos, this.tokenText(t));
    }
    return t;
  }

  /** Entering a nesting construct: parentheses, call, IN list, NOT, unary minus. */
  private enter(pos: number): void {
    if (++this.depth > this.maxDepth) this.fail(`expression nested deeper than ${this.maxDepth} levels`, pos);
  }

  /**
   * Records a node's depth. Operator chains (`1+1+1+…`) deepen the tree without nesting in the text: the
   * tree is capped at twice the nesting limit, so compiling it can never exhaust the stack.
   */
  private track<T extends ExprNode>(node: T, ...children: ExprNode[]): T {
    let d = 0;
    for (const c of children) d = Math.max(d, this.depths.get(c) ?? depthOf(c));
    if (d + 1 > 2 * this.maxDepth) this.fail(`expression nested deeper than ${this.maxDepth} levels`, node.pos);
    this.depths.set(node, d + 1);
    return node;
  }

  private expression(minBp: number): ExprNode {
    let left = this.prefix();
    for (;;) {
      const t = this.peek();
      const kw = this.keyword(t);
      if (kw === 'OR' || kw === 'AND') {
        const bp = kw === 'OR' ? BP_OR : BP_AND;
        if (bp <= minBp) break;
        const operands = [left];
        while (this.keyword(this.peek()) === kw) {
          this.next();
          operands.push(this.expression(bp));
        }
        left = this.track({ kind: 'logical', op: kw, operands, pos: left.pos }, ...operands);
        continue;
      }
      if (t.kind === 'op' && t.value in COMPARISONS) {
        if (BP_COMPARE <= minBp) break;
        this.next();
        const right = this.expression(BP_COMPARE);
        left = this.track({ kind: 'binary', op: COMPARISONS[t.value]!, left, right, pos: left.pos }, left, right);
        continue;
      }
      if (kw === 'LIKE' || kw === 'IN' || kw === 'IS' || (kw === 'NOT' && ['LIKE', 'IN'].includes(this.keyword(this.tokens[this.i + 1]!) ?? ''))) {
        if (BP_COMPARE <= minBp) break;
        left = this.postfixComparison(left);
        continue;
      }
      if (t.kind === 'op' && (t.value === '+' || t.value === '-' || t.value === '*' || t.value === '/')) {
        const bp = t.value === '+' || t.value === '-' ? BP_ADD : BP_MUL;
        if (bp <= minBp) break;
        this.next();
        const right = this.expression(bp);
        left = this.track({ kind: 'binary', op: t.value as ArithmeticOp, left, right, pos: left.pos }, left, right);
        continue;
      }
      break;
    }
    return left;
  }

  /** `x [NOT] LIKE p`, `x [NOT] IN (…)`, `x IS [NOT] NULL`. */
  private postfixComparison(operand: ExprNode): ExprNode {
    let kw = this.keyword(this.next());
    if (kw === 'IS') {
      let negated = false;
      if (this.keyword(this.peek()) === 'NOT') {
        this.next();
        negated = true;
      }
      const t = this.next();
      if (this.keyword(t) !== 'NULL') this.fail(`expected NULL after IS${negated ? ' NOT' : ''}`, t.pos, this.tokenText(t));
      return this.track({ kind: 'isNull', negated, operand, pos: operand.pos }, operand);
    }
    let negated = false;
    if (kw === 'NOT') {
      negated = true;
      kw = this.keyword(this.next());
    }
    if (kw === 'LIKE') {
      const pattern = this.expression(BP_COMPARE);
      return this.track({ kind: 'like', negated, operand, pattern, pos: operand.pos }, operand, pattern);
    }
    // IN ( item, … )
    const open = this.expectOp('(');
    this.enter(open.pos);
    const items: ExprNode[] = [];
    const first = this.peek();
    if (first.kind === 'op' && first.value === ')') this.fail('empty IN list', first.pos, ')');
    for (;;) {
      items.push(this.expression(0));
      const t = this.next();
      if (t.kind === 'op' && t.value === ',') continue;
      if (t.kind === 'op' && t.value === ')') break;
      this.unexpected(t);
    }
    this.depth--;
    return this.track({ kind: 'in', negated, operand, items, pos: operand.pos }, operand, ...items);
  }

  private prefix(): ExprNode {
    const t = this.next();
    switch (t.kind) {
      case 'string':
        return { kind: 'literal', type: 'string', value: t.value, pos: t.pos };
      case 'number':
        return /[.eE]/.test(t.value)
          ? { kind: 'literal', type: 'number', value: numberValue(t.value), decimal: true, pos: t.pos }
          : { kind: 'literal', type: 'number', value: numberValue(t.value), pos: t.pos };
      case 'date':
        return { kind: 'literal', type: t.hasTime ? 'datetime' : 'date', value: t.value, pos: t.pos };
      case 'path':
        return { kind: 'path', segments: t.segments, text: t.text, pos: t.pos };
      case 'op':
        if (t.value === '(') {
          this.enter(t.pos);
          const inner = this.expression(0);
          this.expectOp(')');
          this.depth--;
          return inner;
        }
        if (t.value === '-') {
          this.enter(t.pos);
          const operand = this.expression(BP_UNARY);
          this.depth--;
          if (operand.kind === 'literal' && operand.type === 'number') {
            const v = operand.value;
            const value = typeof v === 'number' ? -v : `-${v}`;
            return operand.decimal
              ? { kind: 'literal', type: 'number', value, decimal: true, pos: t.pos }
              : { kind: 'literal', type: 'number', value, pos: t.pos };
          }
          return this.track({ kind: 'unary', op: '-', operand, pos: t.pos }, operand);
        }
        return this.unexpected(t);
      case 'name':
        return this.name(t);
      case 'eof':
        return this.unexpected(t);
    }
  }

  private name(t: Extract<Token, { kind: 'name' }>): ExprNode {
    const after = this.peek();
    if (after.kind === 'op' && after.value === '(') return this.call(t);
    const kw = t.value.toUpperCase();
    switch (kw) {
      case 'TRUE':
      case 'FALSE':
        return { kind: 'literal', type: 'boolean', value: kw === 'TRUE', pos: t.pos };
      case 'NULL':
        return { kind: 'null', pos: t.pos };
      case 'NOT': {
        this.enter(t.pos);
        const operand = this.expression(BP_NOT);
        this.depth--;
        return this.track({ kind: 'unary', op: 'NOT', operand, pos: t.pos }, operand);
      }
      case 'AND':
      case 'OR':
      case 'LIKE':
      case 'IN':
      case 'IS':
        return this.unexpected(t);
    }
    if (SQL_WORDS.has(kw)) this.unexpected(t);
    const path: PathNode = { kind: 'path', segments: [{ kind: 'element', name: t.value, pos: t.pos }], text: t.value, pos: t.pos };
    return path;
  }

  private call(t: Extract<Token, { kind: 'name' }>): ExprNode {
    const fn = XTK_FUNCTIONS.get(t.value.toLowerCase());
    if (!fn) throw XtkExpressionError.unknown('function', t.value, t.pos, this.expr);
    this.expectOp('(');
    this.enter(t.pos);
    const args: ExprNode[] = [];
    const first = this.peek();
    if (first.kind === 'op' && first.value === ')') this.next();
    else {
      for (;;) {
        args.push(this.expression(0));
        const sep = this.next();
        if (sep.kind === 'op' && sep.value === ',') continue;
        if (sep.kind === 'op' && sep.value === ')') break;
        this.unexpected(sep);
      }
    }
    this.depth--;
    if (args.length < fn.minArgs || args.length > fn.maxArgs) {
      const want = fn.minArgs === fn.maxArgs ? `${fn.minArgs}` : `${fn.minArgs} to ${fn.maxArgs}`;
      this.fail(`function '${fn.name}' takes ${want} argument${want === '1' ? '' : 's'}, not ${args.length}`, t.pos, t.value);
    }
    return this.track({ kind: 'call', name: fn.name, args, pos: t.pos }, ...args);
  }
}

/** A JS number when exact, else the digits (bound as text: PostgreSQL parses them exactly). */
function numberValue(raw: string): number | string {
  const v = Number(raw);
  if (!Number.isFinite(v)) return raw;
  if (/^\d+$/.test(raw) && !Number.isSafeInteger(v)) return raw;
  return v;
}

/**
 * Parses an XTK expression (`@email = 'a@x.com' AND [folder/@name] LIKE 'nms%'`) into a syntax tree.
 * Throws XtkExpressionError (QUERY_INVALID) for anything outside the language, including SQL fragments,
 * unknown functions and nesting deeper than `maxDepth`. Names of attributes and links are checked later,
 * against a schema, by the query compiler.
 */
export function parseExpression(expr: string, options: ParseOptions = {}): ExprNode {
  const maxLength = options.maxLength ?? DEFAULT_MAX_EXPRESSION_LENGTH;
  if (typeof expr !== 'string') throw XtkExpressionError.syntax(String(expr), 'the expression must be a string', 1);
  if (expr.length > maxLength) throw XtkExpressionError.syntax(expr, `expression longer than ${maxLength} characters`, maxLength + 1);
  const tokens = tokenizeExpression(expr);
  if (tokens.length === 1) throw XtkExpressionError.syntax(expr, 'empty expression', 1);
  return new Parser(expr, tokens, options.maxDepth ?? DEFAULT_MAX_EXPRESSION_DEPTH).parse();
}
