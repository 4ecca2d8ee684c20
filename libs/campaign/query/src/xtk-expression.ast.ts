/**
 * The syntax tree of an XTK expression. Every node carries `pos`, the 1-based position of its first
 * character in the expression, so later stages (name resolution, SQL generation) report errors precisely.
 * Nodes are plain immutable data: a parsed expression can be cached and shared.
 */

/** One step of a path: `..` (parent query), an element or link name, or the final `@attribute`. */
export type PathSegment =
  | { readonly kind: 'parent'; readonly pos: number }
  | { readonly kind: 'element'; readonly name: string; readonly pos: number }
  | { readonly kind: 'attribute'; readonly name: string; readonly pos: number };

export type LiteralType = 'string' | 'number' | 'boolean' | 'date' | 'datetime';

export interface LiteralNode {
  readonly kind: 'literal';
  readonly type: LiteralType;
  /**
   * string: the unescaped text; number: a JS number, or the digits as a string when beyond 2^53;
   * boolean: true/false; date: `YYYY-MM-DD`; datetime: `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
   */
  readonly value: string | number | boolean;
  /** Numbers written with a decimal point or an exponent (`3.0`, `1e3`): decimal, never integer, arithmetic. */
  readonly decimal?: boolean;
  readonly pos: number;
}

export interface NullNode {
  readonly kind: 'null';
  readonly pos: number;
}

/** `@email`, `location/@city`, `[folder/@label]`, `[../@id]`, `comment`, `subscription`. */
export interface PathNode {
  readonly kind: 'path';
  readonly segments: readonly PathSegment[];
  /** The path as written, without brackets (`folder/@label`). */
  readonly text: string;
  readonly pos: number;
}

export interface CallNode {
  readonly kind: 'call';
  /** Canonical name from the allow-list (`Lower`, `CountDistinct`), whatever the caller's case. */
  readonly name: string;
  readonly args: readonly ExprNode[];
  readonly pos: number;
}

export interface UnaryNode {
  readonly kind: 'unary';
  readonly op: '-' | 'NOT';
  readonly operand: ExprNode;
  readonly pos: number;
}

export type ArithmeticOp = '+' | '-' | '*' | '/';
export type ComparisonOp = '=' | '<>' | '<' | '<=' | '>' | '>=';

export interface BinaryNode {
  readonly kind: 'binary';
  readonly op: ArithmeticOp | ComparisonOp;
  readonly left: ExprNode;
  readonly right: ExprNode;
  readonly pos: number;
}

/** `a AND b AND c` is one node with three operands (flat, so long chains do not make deep trees). */
export interface LogicalNode {
  readonly kind: 'logical';
  readonly op: 'AND' | 'OR';
  readonly operands: readonly ExprNode[];
  readonly pos: number;
}

export interface LikeNode {
  readonly kind: 'like';
  readonly negated: boolean;
  readonly operand: ExprNode;
  readonly pattern: ExprNode;
  readonly pos: number;
}

export interface InNode {
  readonly kind: 'in';
  readonly negated: boolean;
  readonly operand: ExprNode;
  readonly items: readonly ExprNode[];
  readonly pos: number;
}

export interface IsNullNode {
  readonly kind: 'isNull';
  readonly negated: boolean;
  readonly operand: ExprNode;
  readonly pos: number;
}

export type ExprNode = LiteralNode | NullNode | PathNode | CallNode | UnaryNode | BinaryNode | LogicalNode | LikeNode | InNode | IsNullNode;
