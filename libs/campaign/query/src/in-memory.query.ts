import type { XtkType } from '@cap/campaign-schema';
import type { XmlElement } from '@cap/campaign-xml';
import type { Condition, QueryDef, SelectNode, SimpleJsonQueryDef } from './query-def.model';
import { normaliseQueryDef } from './query-def.normaliser';
import { DEFAULT_LINE_COUNT, MAX_LINE_COUNT } from './query-def.compiler';
import { QueryError } from './query.error';
import { KIND_OF_TYPE } from './sql-expression.compiler';
import type { ResultShape, ShapeColumn } from './result-shape.model';
import { shapeRows } from './result.shaper';
import type { ExprNode, LiteralNode } from './xtk-expression.ast';
import { XtkExpressionError } from './xtk-expression.error';
import { parseExpression, type ParseOptions } from './xtk-expression.parser';

/**
 * A schema whose rows are not in a table but computed by the caller (xtk:srcSchema, xtk:schema and xtk:entity are
 * answered from the schema catalog of the gateway): the fields a queryDef may name, by xpath (`@name`, `data`).
 */
export interface InMemorySchema {
  id: string;
  /** The row element name (`srcSchema`). */
  rowName: string;
  fields: readonly InMemoryField[];
}

export interface InMemoryField {
  /** `@name` for an attribute, `data` for a text element. */
  xpath: string;
  /** string, memo, boolean, long or datetime. */
  type: XtkType;
}

/** One row, by field xpath. Absent or null: NULL. Datetimes as Date. */
export type InMemoryRow = Readonly<Record<string, string | number | boolean | Date | null | undefined>>;

export interface InMemoryQueryOptions {
  parse?: ParseOptions;
  /** Rows of a select without lineCount (default 200, as for tables). */
  defaultLineCount?: number;
  /** Most rows of a select: a larger lineCount is capped (default 10,000, as for tables). */
  maxLineCount?: number;
  /** Most characters of text values one answer may hold (selected `data` documents): more is refused. Default 16 MiB. */
  maxAnswerChars?: number;
  /** Most work units (rows × expression steps, characters scanned by LIKE) one query may take. Default 50 million. */
  maxWork?: number;
}

/** A queryDef ready to run over rows: `fields` tells which fields it reads, so the caller computes only those. */
export interface InMemoryQuery {
  readonly fields: ReadonlySet<string>;
  /** The result document, as shapeRows() makes it for a table (QueryError NO_RECORD for a `get` without row). */
  run(rows: readonly InMemoryRow[]): XmlElement;
}

type Kind = 'string' | 'number' | 'boolean' | 'datetime' | 'null';
type Value = string | number | boolean | null;
interface Compiled {
  kind: Kind;
  /** The field read, when the expression is just a field (for result shaping). */
  field?: InMemoryField;
  literal?: LiteralNode;
  eval(row: InMemoryRow): Value;
}

/** The SQL compiler's kinds, with dates compared as datetimes (both are epoch milliseconds here). */
const kindOfType = (type: XtkType): Kind => (KIND_OF_TYPE[type] === 'date' ? 'datetime' : (KIND_OF_TYPE[type] as Kind));
const TYPE_OF_KIND: Record<Kind, XtkType> = { string: 'string', number: 'double', boolean: 'boolean', datetime: 'datetime', null: 'string' };

/** Campaign's text of a datetime (`2024-01-31 10:00:00.000Z`), ISO-8601 and plain dates: epoch milliseconds. */
function parseDateText(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(text.trim());
  if (!m) return undefined;
  let t = Date.UTC(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4] ?? 0),
    Number(m[5] ?? 0),
    Number(m[6] ?? 0),
    m[7] ? Math.round(Number(m[7]) * 1000) : 0,
  );
  const zone = m[8];
  if (zone && zone !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    t -= (zone.startsWith('-') ? -1 : 1) * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
  }
  return Number.isNaN(t) ? undefined : t;
}

/** Three-valued comparison result of two non-null values of one kind. */
function order(a: Exclude<Value, null>, b: Exclude<Value, null>): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/** NULLs sort after every value, as PostgreSQL sorts them (last ascending, first descending). */
function sortOrder(a: Value, b: Value): number {
  if (a === null) return b === null ? 0 : 1;
  if (b === null) return -1;
  return order(a, b);
}

/** Evaluates queryDefs over rows in memory, with the same grammar, errors and result shapes as the SQL compiler. */
class InMemoryCompiler {
  readonly fields = new Set<string>();
  private work = 0;
  private readonly byXpath: Map<string, InMemoryField>;

  constructor(
    private readonly schema: InMemorySchema,
    private readonly options: InMemoryQueryOptions,
  ) {
    this.byXpath = new Map(schema.fields.map((f) => [f.xpath, f]));
  }

  /** Counts work; a query that would need more than the budget is refused instead of holding the process. */
  spend(units: number): void {
    this.work += units;
    if (this.work > (this.options.maxWork ?? 50_000_000))
      throw QueryError.invalid(`the query on '${this.schema.id}' needs too much work: select fewer rows or use simpler conditions`, 'limit');
  }

  private unsupported(what: string): QueryError {
    return QueryError.invalid(`${what} is not available on '${this.schema.id}' (answered from the schema catalog, not a table)`, 'unsupported');
  }

  expression(expr: string): Compiled {
    return this.compile(parseExpression(expr, this.options.parse), expr);
  }

  private compile(node: ExprNode, expr: string): Compiled {
    const syntax = (what: string, pos: number) => XtkExpressionError.syntax(expr, what, pos);
    switch (node.kind) {
      case 'literal': {
        const v = node.value;
        if (node.type === 'date' || node.type === 'datetime') {
          const t = parseDateText(String(v));
          if (t === undefined) throw syntax(`invalid date '${String(v)}'`, node.pos);
          return { kind: 'datetime', literal: node, eval: () => t };
        }
        const value: Value = node.type === 'number' ? Number(v) : (v as string | boolean);
        return { kind: node.type === 'number' ? 'number' : node.type, literal: node, eval: () => value };
      }
      case 'null':
        return { kind: 'null', eval: () => null };
      case 'path': {
        const first = node.segments[0]!;
        if (first.kind === 'parent') throw syntax(`'..' refers to a parent query, but this is not a sub-query`, first.pos);
        if (node.segments.length > 1 || (first.kind === 'element' && !this.byXpath.has(first.name)))
          throw XtkExpressionError.unknown(
            first.kind === 'attribute' ? 'attribute' : 'link',
            first.kind === 'attribute' ? `@${first.name}` : first.name,
            first.pos,
            expr,
          );
        const xpath = first.kind === 'attribute' ? `@${first.name}` : first.name;
        const field = this.byXpath.get(xpath);
        if (!field) throw XtkExpressionError.unknown('attribute', xpath, first.pos, expr);
        this.fields.add(xpath);
        const kind = kindOfType(field.type);
        return {
          kind,
          field,
          eval: (row) => {
            const v = row[xpath];
            if (v === undefined || v === null) return null;
            if (v instanceof Date) return v.getTime();
            return v;
          },
        };
      }
      case 'call':
        return this.call(node.name, node.args, node.pos, expr);
      case 'unary': {
        const operand = this.compile(node.operand, expr);
        if (node.op === 'NOT') {
          this.expect(operand, 'boolean', 'NOT', node.operand.pos, expr);
          return { kind: 'boolean', eval: (row) => (operand.eval(row) === null ? null : !operand.eval(row)) };
        }
        this.expect(operand, 'number', `'-'`, node.operand.pos, expr);
        return { kind: 'number', eval: (row) => (operand.eval(row) === null ? null : -(operand.eval(row) as number)) };
      }
      case 'binary': {
        if (node.op === '+' || node.op === '-' || node.op === '*' || node.op === '/') {
          const left = this.compile(node.left, expr);
          const right = this.compile(node.right, expr);
          if (node.op === '+' && (left.kind === 'string' || right.kind === 'string')) {
            return {
              kind: 'string',
              eval: (row) => {
                const a = left.eval(row);
                const b = right.eval(row);
                return a === null || b === null ? null : `${String(a)}${String(b)}`;
              },
            };
          }
          this.expect(left, 'number', `'${node.op}'`, node.left.pos, expr);
          this.expect(right, 'number', `'${node.op}'`, node.right.pos, expr);
          const op = node.op;
          return {
            kind: 'number',
            eval: (row) => {
              const a = left.eval(row) as number | null;
              const b = right.eval(row) as number | null;
              if (a === null || b === null) return null;
              if (op === '/' && b === 0) throw QueryError.invalid(`division by zero in '${expr.slice(0, 200)}'`);
              return op === '+' ? a + b : op === '-' ? a - b : op === '*' ? a * b : a / b;
            },
          };
        }
        const [left, right] = this.peers(node.left, node.right, expr);
        const op = node.op;
        return {
          kind: 'boolean',
          eval: (row) => {
            const a = left.eval(row);
            const b = right.eval(row);
            if (a === null || b === null) return null;
            const c = order(a, b);
            return op === '=' ? c === 0 : op === '<>' ? c !== 0 : op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0;
          },
        };
      }
      case 'logical': {
        const parts = node.operands.map((o) => {
          const c = this.compile(o, expr);
          this.expect(c, 'boolean', node.op, o.pos, expr);
          return c;
        });
        const and = node.op === 'AND';
        return {
          kind: 'boolean',
          eval: (row) => {
            // SQL's three-valued logic: AND is false as soon as one part is, OR true as soon as one part is.
            let unknown = false;
            for (const p of parts) {
              const v = p.eval(row);
              if (v === null) unknown = true;
              else if (v === !and) return !and;
            }
            return unknown ? null : and;
          },
        };
      }
      case 'like': {
        const [operand, pattern] = this.peers(node.operand, node.pattern, expr);
        this.expect(operand, 'string', 'LIKE', node.operand.pos, expr);
        const negated = node.negated;
        return {
          kind: 'boolean',
          eval: (row) => {
            const s = operand.eval(row);
            const p = pattern.eval(row);
            if (s === null || p === null) return null;
            return this.like(String(s), String(p)) !== negated;
          },
        };
      }
      case 'in': {
        const operand = this.compile(node.operand, expr);
        const items = node.items.map((item) => this.against(this.compile(item, expr), operand, expr, item.pos));
        const negated = node.negated;
        return {
          kind: 'boolean',
          eval: (row) => {
            const v = operand.eval(row);
            if (v === null) return null;
            let unknown = false;
            for (const item of items) {
              const i = item.eval(row);
              if (i === null) unknown = true;
              else if (order(v, i) === 0) return !negated;
            }
            return unknown ? null : negated;
          },
        };
      }
      case 'isNull': {
        const operand = this.compile(node.operand, expr);
        const negated = node.negated;
        return { kind: 'boolean', eval: (row) => (operand.eval(row) === null) !== negated };
      }
    }
  }

  private expect(c: Compiled, kind: Kind, what: string, pos: number, expr: string): void {
    if (c.kind !== 'null' && c.kind !== kind) throw XtkExpressionError.syntax(expr, `${what} needs a ${kind}, not a ${c.kind} value`, pos);
  }

  /** Two operands compared: a literal takes the type of what it faces (as a bind parameter does in SQL). */
  private peers(a: ExprNode, b: ExprNode, expr: string): [Compiled, Compiled] {
    const left = this.compile(a, expr);
    const right = this.compile(b, expr);
    if (left.literal && !right.literal) return [this.against(left, right, expr, a.pos), right];
    return [left, this.against(right, left, expr, b.pos)];
  }

  /** `value` compared with `peer`: a literal is converted to the peer's kind; other values must be of that kind. */
  private against(value: Compiled, peer: Compiled, expr: string, pos: number): Compiled {
    if (value.kind === peer.kind || value.kind === 'null' || peer.kind === 'null') return value;
    const lit = value.literal;
    if (lit) {
      const text = String(lit.value);
      let converted: Value | undefined;
      if (peer.kind === 'string') converted = text;
      else if (peer.kind === 'number') converted = text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : undefined;
      else if (peer.kind === 'boolean')
        converted = ['1', 'true'].includes(text.toLowerCase()) ? true : ['0', 'false'].includes(text.toLowerCase()) ? false : undefined;
      else if (peer.kind === 'datetime') converted = parseDateText(text);
      if (converted === undefined) throw XtkExpressionError.syntax(expr, `'${text.slice(0, 60)}' is not a ${peer.kind} value`, pos);
      const fixed = converted;
      return { kind: peer.kind, literal: lit, eval: () => fixed };
    }
    throw XtkExpressionError.syntax(expr, `cannot compare a ${peer.kind} value with a ${value.kind} value`, pos);
  }

  private call(name: string, args: readonly ExprNode[], pos: number, expr: string): Compiled {
    const compiled = args.map((a) => this.compile(a, expr));
    const text = (fn: (s: string) => Value): Compiled => {
      this.expect(compiled[0]!, 'string', name, args[0]!.pos, expr);
      return {
        kind: name === 'Length' || name === 'Len' ? 'number' : 'string',
        eval: (row) => {
          const v = compiled[0]!.eval(row);
          return v === null ? null : fn(String(v));
        },
      };
    };
    switch (name) {
      case 'Lower':
        return text((s) => s.toLowerCase());
      case 'Upper':
        return text((s) => s.toUpperCase());
      case 'Trim':
        return text((s) => s.trim());
      case 'LTrim':
        return text((s) => s.trimStart());
      case 'RTrim':
        return text((s) => s.trimEnd());
      case 'Length':
      case 'Len':
        return text((s) => s.length);
      case 'IsNull':
      case 'Coalesce': {
        const first = compiled[0]!;
        const rest = compiled.slice(1).map((c, i) => this.against(c, first, expr, args[i + 1]!.pos));
        return {
          kind: first.kind === 'null' ? (rest.find((r) => r.kind !== 'null')?.kind ?? 'null') : first.kind,
          eval: (row) => {
            for (const c of [first, ...rest]) {
              const v = c.eval(row);
              if (v !== null) return v;
            }
            return null;
          },
        };
      }
      default:
        throw this.unsupported(`the function ${name} (at position ${pos})`);
    }
  }

  /**
   * SQL LIKE (`%` any text, `_` one character, `\` escapes), without regular expressions: the pattern is split at
   * its `%`; each piece is found at the earliest place after the previous one (the first is anchored at the start,
   * the last at the end). Earliest is always right for LIKE, so this never backtracks; the characters scanned are
   * counted against the query's work budget.
   */
  private like(s: string, pattern: string): boolean {
    const pieces: { chars: string[]; any: boolean[] }[] = [{ chars: [], any: [] }];
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern[i]!;
      const piece = pieces[pieces.length - 1]!;
      if (c === '\\' && i + 1 < pattern.length) {
        piece.chars.push(pattern[++i]!);
        piece.any.push(false);
      } else if (c === '%') pieces.push({ chars: [], any: [] });
      else {
        piece.chars.push(c);
        piece.any.push(c === '_');
      }
    }
    const matchesAt = (piece: { chars: string[]; any: boolean[] }, at: number): boolean => {
      this.spend(piece.chars.length);
      for (let k = 0; k < piece.chars.length; k++) if (!piece.any[k] && s[at + k] !== piece.chars[k]) return false;
      return true;
    };
    const first = pieces[0]!;
    if (pieces.length === 1) return s.length === first.chars.length && matchesAt(first, 0);
    const last = pieces[pieces.length - 1]!;
    if (first.chars.length + last.chars.length > s.length) return false;
    if (!matchesAt(first, 0) || !matchesAt(last, s.length - last.chars.length)) return false;
    let at = first.chars.length;
    const end = s.length - last.chars.length;
    for (const piece of pieces.slice(1, -1)) {
      const n = piece.chars.length;
      let found = -1;
      if (!piece.any.includes(true)) {
        found = s.indexOf(piece.chars.join(''), at);
        this.spend(Math.max(1, (found < 0 ? s.length : found) - at));
        if (found + n > end) found = -1;
      } else {
        for (let p = at; p + n <= end; p++) {
          if (matchesAt(piece, p)) {
            found = p;
            break;
          }
        }
      }
      if (found < 0) return false;
      at = found + n;
    }
    return true;
  }

  condition(c: Condition): Compiled {
    if (c.setOperator || c.subQuery) throw this.unsupported(`setOperator ${c.setOperator ?? ''} and sub-queries`);
    const parts: Compiled[] = [];
    if (c.expr !== undefined) {
      const e = this.expression(c.expr);
      this.expect(e, 'boolean', 'a condition', 1, c.expr);
      parts.push(e);
    }
    const nested = this.conditions(c.conditions);
    if (nested) parts.push(nested);
    return parts.length === 1 ? parts[0]! : { kind: 'boolean', eval: (row) => this.both(parts[0]!.eval(row), parts[1]!.eval(row)) };
  }

  private both(a: Value, b: Value): Value {
    if (a === false || b === false) return false;
    return a === null || b === null ? null : true;
  }

  /** Sibling conditions: `boolOperator` joins a condition to the next one, AND binding tighter than OR. */
  conditions(list: readonly Condition[]): Compiled | undefined {
    if (list.length === 0) return undefined;
    const groups: Compiled[][] = [[]];
    list.forEach((c, i) => {
      if (i > 0 && list[i - 1]!.boolOperator === 'OR') groups.push([]);
      groups[groups.length - 1]!.push(this.condition(c));
    });
    return {
      kind: 'boolean',
      eval: (row) => {
        let result: Value = false;
        for (const group of groups) {
          let all: Value = true;
          for (const c of group) all = this.both(all, c.eval(row));
          if (all === true) return true;
          if (all === null) result = null;
        }
        return result;
      },
    };
  }

  shapeColumn(node: SelectNode, i: number, c: Compiled): ShapeColumn {
    if (node.alias !== undefined) {
      const parts = node.alias.split('/');
      const last = parts.pop()!;
      const isElement = !last.startsWith('@');
      return { alias: `c${i}`, path: parts, name: isElement ? last : last.slice(1), isElement, type: c.field?.type ?? TYPE_OF_KIND[c.kind] };
    }
    if (c.field) {
      const isElement = !c.field.xpath.startsWith('@');
      return { alias: `c${i}`, path: [], name: isElement ? c.field.xpath : c.field.xpath.slice(1), isElement, type: c.field.type };
    }
    return { alias: `c${i}`, path: [], name: `expr${i}`, isElement: false, type: TYPE_OF_KIND[c.kind] };
  }
}

/**
 * Compiles a queryDef on an in-memory schema: the same queryDef grammar as for tables (normaliseQueryDef, XTK
 * expressions), evaluated over rows the caller gives, for schemas whose rows are computed rather than stored.
 * Supported: operations select, get, getIfExists and count; select nodes with aliases; where conditions (nested,
 * AND/OR, comparisons, LIKE, IN, IS NULL, Lower, Upper, Trim, LTrim, RTrim, Length, IsNull, Coalesce); orderBy;
 * distinct; lineCount and startLine (default and cap as for tables). Refused with QUERY_INVALID: links, sub-queries,
 * groupBy and having, aggregates and other functions, unknown fields, values of the wrong type.
 */
export function compileInMemoryQuery(
  input: XmlElement | SimpleJsonQueryDef | QueryDef,
  schema: InMemorySchema,
  options: InMemoryQueryOptions = {},
): InMemoryQuery {
  const q = normaliseQueryDef(input);
  const compiler = new InMemoryCompiler(schema, options);
  const unsupported = (what: string) =>
    QueryError.invalid(`${what} is not available on '${schema.id}' (answered from the schema catalog, not a table)`, 'unsupported');
  if (q.groupBy.length > 0 || q.having.length > 0 || q.select.some((n) => n.groupBy)) throw unsupported('groupBy and having');
  const where = compiler.conditions(q.where);
  const base = { operation: q.operation, schemaId: schema.id, rowName: schema.rowName };

  if (q.operation === 'count') {
    const shape: ResultShape = { ...base, columns: [{ alias: 'c0', path: [], name: 'count', isElement: false, type: 'int64' }] };
    return {
      fields: compiler.fields,
      run(rows) {
        compiler.spend(rows.length);
        const n = where ? rows.filter((r) => where.eval(r) === true).length : rows.length;
        return shapeRows(shape, [[n]]);
      },
    };
  }

  if (q.select.length === 0) throw QueryError.invalid(`queryDef on '${q.schema}' selects nothing: add <select><node expr="…"/></select>`);
  const selected = q.select.map((n) => compiler.expression(n.expr));
  const shape: ResultShape = { ...base, columns: q.select.map((n, i) => compiler.shapeColumn(n, i, selected[i]!)) };
  const sortKeys = q.orderBy.map((o) => {
    const e = o.expr.trim();
    const byAlias = q.select.findIndex((n) => n.alias === e);
    return { key: byAlias >= 0 ? selected[byAlias]! : compiler.expression(o.expr), desc: o.sortDesc };
  });
  const max = options.maxLineCount ?? MAX_LINE_COUNT;
  const wanted = q.lineCount === undefined || q.lineCount === 0 ? (options.defaultLineCount ?? DEFAULT_LINE_COUNT) : q.lineCount;
  const limit = q.operation === 'select' ? Math.min(wanted, max) : 1;
  const offset = q.operation === 'select' ? (q.startLine ?? 0) : 0;

  return {
    fields: compiler.fields,
    run(rows) {
      compiler.spend(rows.length * (1 + selected.length + sortKeys.length));
      let kept = where ? rows.filter((r) => where.eval(r) === true) : [...rows];
      if (sortKeys.length > 0) {
        // Keys computed once per row; Array.prototype.sort is stable, so rows that tie keep the caller's order.
        const keyed = kept.map((row) => ({ row, keys: sortKeys.map((k) => k.key.eval(row)) }));
        keyed.sort((a, b) => {
          for (let i = 0; i < sortKeys.length; i++) {
            const c = sortOrder(a.keys[i]!, b.keys[i]!);
            if (c !== 0) return sortKeys[i]!.desc ? -c : c;
          }
          return 0;
        });
        kept = keyed.map((k) => k.row);
      }
      // Values of the page's rows only (a text computed on demand is computed for them alone), unless distinct
      // needs every row's values to tell duplicates apart.
      let values: Value[][];
      if (q.distinct) {
        const seen = new Set<string>();
        values = kept
          .map((row) => selected.map((s) => s.eval(row)))
          .filter((v) => {
            const key = JSON.stringify(v);
            return seen.has(key) ? false : (seen.add(key), true);
          })
          .slice(offset, offset + limit);
      } else values = kept.slice(offset, offset + limit).map((row) => selected.map((s) => s.eval(row)));
      const maxChars = options.maxAnswerChars ?? 16 * 1024 * 1024;
      let chars = 0;
      for (const v of values) for (const x of v) if (typeof x === 'string') chars += x.length;
      if (chars > maxChars)
        throw QueryError.invalid(`the answer would hold ${chars} characters (at most ${maxChars}): select fewer rows (lineCount) or fewer fields`, 'limit');
      // Datetimes travel as epoch milliseconds: the shaper's formatter writes Campaign's text for them.
      return shapeRows(shape, values);
    },
  };
}
