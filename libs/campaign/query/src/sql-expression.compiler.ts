import { type Field, type Link, quoteIdent, type Schema, type XtkType } from '@cap/campaign-schema';
import type { CallNode, ExprNode, LiteralNode, PathNode, PathSegment } from './xtk-expression.ast';
import { XtkExpressionError } from './xtk-expression.error';
import { XTK_FUNCTIONS } from './xtk-function.catalogue';
import { QueryScope } from './query.scope';
import { getSchemaIndex } from './schema.index';

/** What an SQL expression yields, as far as the compiler can tell. */
export type ValueKind = 'string' | 'number' | 'boolean' | 'date' | 'datetime' | 'unknown';

/** A field reached by a path, with the single links followed to reach it (`['folder']`). */
export interface FieldRef {
  readonly field: Field;
  readonly links: readonly string[];
}

/** A compiled piece of SQL. Every literal in it is a placeholder (`$n`); identifiers come from schemas. */
export interface SqlFragment {
  readonly sql: string;
  /** Precedence of its top operator (see P_*), to add parentheses only where needed. */
  readonly prec: number;
  readonly kind: ValueKind;
  /** Exact XTK type when known (fields, counts): decides how result values are formatted. */
  readonly xtkType?: XtkType;
  /** Set when the fragment is just a column: result shaping nests it like the schema. */
  readonly field?: FieldRef;
  /** Contains an aggregate function of this query level. */
  readonly aggregate: boolean;
  /** A placeholder with no cast: its type comes from the other operand. */
  readonly bare?: boolean;
}

/** Where an expression is compiled. */
export interface ExpressionContext {
  readonly scope: QueryScope;
  /** The expression text, quoted in error messages. */
  readonly expr: string;
  /** Clause name for messages: `where`, `select`… */
  readonly clause: string;
  /** Count/Sum… of this query level are allowed (select, having, orderBy). */
  readonly allowAggregates: boolean;
  /** A collection link alone is an EXISTS test (conditions only). */
  readonly allowExists: boolean;
}

// SQL precedence levels of what we emit (PostgreSQL order, higher binds tighter).
const P_OR = 1;
const P_AND = 2;
const P_NOT = 3;
const P_CMP = 4;
const P_CONCAT = 5;
const P_ADD = 6;
const P_MUL = 7;
const P_UNARY = 8;
const P_ATOM = 9;

/** The kind of value a field of each XTK type holds (shared with the in-memory evaluator, in-memory.query.ts). */
export const KIND_OF_TYPE: Readonly<Record<XtkType, ValueKind>> = {
  string: 'string',
  memo: 'string',
  uuid: 'string',
  long: 'number',
  int64: 'number',
  short: 'number',
  byte: 'number',
  double: 'number',
  boolean: 'boolean',
  datetime: 'datetime',
  date: 'date',
};

const INTEGER_TYPES = new Set<XtkType | undefined>(['byte', 'short', 'long', 'int64']);

function wrap(f: SqlFragment, minPrec: number): string {
  return f.prec >= minPrec ? f.sql : `(${f.sql})`;
}

function fragment(sql: string, prec: number, kind: ValueKind, extra: Partial<SqlFragment> & { aggregate: boolean }): SqlFragment {
  return { sql, prec, kind, ...extra };
}

function segmentText(segments: readonly PathSegment[]): string {
  return segments.map((s) => (s.kind === 'attribute' ? `@${s.name}` : s.kind === 'parent' ? '..' : s.name)).join('/');
}

type Resolved =
  | { kind: 'field'; field: Field; alias: string; links: string[] }
  | { kind: 'collection'; link: Link; ownerAlias: string; ownerSchema: Schema; scope: QueryScope; rest: readonly PathSegment[]; pos: number };

/**
 * Compiles XTK expression trees into PostgreSQL for one query scope: paths become qualified columns (joining
 * single links on the way), literals become bind parameters, functions come from the allow-list only.
 */
export class SqlExpressionCompiler {
  constructor(private readonly ctx: ExpressionContext) {}

  private get builder() {
    return this.ctx.scope.builder;
  }

  private error(what: string, pos: number, token = ''): XtkExpressionError {
    return XtkExpressionError.syntax(this.ctx.expr, what, pos, token);
  }

  private unknown(kind: 'attribute' | 'link', token: string, pos: number): XtkExpressionError {
    return XtkExpressionError.unknown(kind, token, pos, this.ctx.expr);
  }

  /** A condition: must be a boolean expression. */
  condition(node: ExprNode): SqlFragment {
    const f = this.compile(node);
    if (f.kind !== 'boolean' && f.kind !== 'unknown') throw this.error(`a condition must be true or false, not a ${f.kind} value`, node.pos);
    return f;
  }

  compile(node: ExprNode): SqlFragment {
    switch (node.kind) {
      case 'literal':
        return this.literal(node, undefined);
      case 'null':
        return fragment('NULL', P_ATOM, 'unknown', { aggregate: false });
      case 'path':
        return this.path(node);
      case 'call':
        return this.call(node);
      case 'unary': {
        const operand = this.compile(node.operand);
        if (node.op === 'NOT') {
          this.expectKind(operand, ['boolean'], 'NOT', node.operand.pos);
          return fragment(`NOT ${wrap(operand, P_CMP)}`, P_NOT, 'boolean', { aggregate: operand.aggregate });
        }
        this.expectKind(operand, ['number'], `'-'`, node.operand.pos);
        const inner = wrap(operand, P_UNARY);
        // Never emit `--` (a comment in SQL), whatever the operand starts with.
        return fragment(`-${inner.startsWith('-') ? `(${inner})` : inner}`, P_UNARY, 'number', {
          aggregate: operand.aggregate,
          xtkType: operand.xtkType ?? 'double',
        });
      }
      case 'binary': {
        if (node.op === '+' || node.op === '-' || node.op === '*' || node.op === '/') {
          const left = this.compile(node.left);
          const right = this.compile(node.right);
          const aggregate = left.aggregate || right.aggregate;
          if (node.op === '+' && (left.kind === 'string' || right.kind === 'string')) {
            return fragment(`${wrap(left, P_CONCAT)} || ${wrap(right, P_CONCAT + 1)}`, P_CONCAT, 'string', { aggregate });
          }
          this.expectKind(left, ['number'], `'${node.op}'`, node.left.pos);
          this.expectKind(right, ['number'], `'${node.op}'`, node.right.pos);
          const prec = node.op === '+' || node.op === '-' ? P_ADD : P_MUL;
          const xtkType: XtkType = INTEGER_TYPES.has(left.xtkType) && INTEGER_TYPES.has(right.xtkType) && node.op !== '/' ? 'int64' : 'double';
          return fragment(`${wrap(left, prec)} ${node.op} ${wrap(right, prec + 1)}`, prec, 'number', { aggregate, xtkType });
        }
        const [left, right] = this.peers(node.left, node.right);
        return fragment(`${wrap(left, P_CMP + 1)} ${node.op} ${wrap(right, P_CMP + 1)}`, P_CMP, 'boolean', { aggregate: left.aggregate || right.aggregate });
      }
      case 'logical': {
        const parts = node.operands.map((o) => {
          const f = this.compile(o);
          this.expectKind(f, ['boolean'], node.op, o.pos);
          return f;
        });
        const prec = node.op === 'AND' ? P_AND : P_OR;
        // AND inside OR gets parentheses too: same meaning, easier to read.
        const sql = parts.map((p) => wrap(p, node.op === 'AND' ? P_AND : P_NOT)).join(` ${node.op} `);
        return fragment(sql, prec, 'boolean', { aggregate: parts.some((p) => p.aggregate) });
      }
      case 'like': {
        const [operand, pattern] = this.peers(node.operand, node.pattern);
        const op = node.negated ? 'NOT LIKE' : 'LIKE';
        return fragment(`${wrap(operand, P_CONCAT)} ${op} ${wrap(pattern, P_CONCAT)}`, P_CMP, 'boolean', { aggregate: operand.aggregate || pattern.aggregate });
      }
      case 'in': {
        const operand = this.compile(node.operand);
        const items = node.items.map((item) => (item.kind === 'literal' ? this.literal(item, operand) : this.compile(item)));
        const op = node.negated ? 'NOT IN' : 'IN';
        return fragment(`${wrap(operand, P_CONCAT)} ${op} (${items.map((i) => i.sql).join(', ')})`, P_CMP, 'boolean', {
          aggregate: operand.aggregate || items.some((i) => i.aggregate),
        });
      }
      case 'isNull': {
        const operand = this.compile(node.operand);
        return fragment(`${wrap(operand, P_CONCAT)} IS ${node.negated ? 'NOT NULL' : 'NULL'}`, P_CMP, 'boolean', { aggregate: operand.aggregate });
      }
    }
  }

  /** Two operands of a comparison: a literal facing a typed expression is bound without a cast. */
  private peers(a: ExprNode, b: ExprNode): [SqlFragment, SqlFragment] {
    if (a.kind === 'literal' && b.kind !== 'literal') {
      const right = this.compile(b);
      return [this.literal(a, right), right];
    }
    const left = this.compile(a);
    return [left, b.kind === 'literal' ? this.literal(b, left) : this.compile(b)];
  }

  private expectKind(f: SqlFragment, kinds: ValueKind[], what: string, pos: number): void {
    if (f.kind === 'unknown' || kinds.includes(f.kind)) return;
    throw this.error(`${what} needs ${kinds.map((k) => `a ${k}`).join(' or ')}, not a ${f.kind} value`, pos);
  }

  /**
   * A literal becomes a bind parameter. Facing a typed expression (`"r0"."email" = $1`) PostgreSQL infers its
   * type; elsewhere it gets an explicit cast (`$1::text`), and so does a number facing a number (`$1::integer`).
   * A date compared with a datetime means midnight UTC.
   */
  literal(node: LiteralNode, peer: SqlFragment | undefined): SqlFragment {
    const typed = peer !== undefined && peer.kind !== 'unknown' && !peer.bare && !peer.sql.startsWith('$');
    let value = node.value;
    let cast: string;
    switch (node.type) {
      case 'string':
        cast = 'text';
        break;
      case 'boolean':
        cast = 'boolean';
        break;
      case 'date':
        cast = 'date';
        if (typed && peer.kind === 'datetime') value = `${String(value)}T00:00:00.000Z`;
        break;
      case 'datetime':
        cast = 'timestamptz';
        break;
      case 'number': {
        const isInt = !node.decimal && (typeof value === 'string' ? /^-?\d+$/.test(value) : Number.isInteger(value));
        const int32 = isInt && typeof value === 'number' && Math.abs(value) <= 2_147_483_647;
        const int64 = isInt && BigInt(value) >= -(2n ** 63n) && BigInt(value) < 2n ** 63n;
        cast = int32 ? 'integer' : int64 ? 'bigint' : 'numeric';
        break;
      }
    }
    const kind: ValueKind = node.type;
    const xtkType: XtkType =
      node.type === 'number' ? (cast === 'numeric' ? 'double' : cast === 'integer' ? 'long' : 'int64') : node.type === 'date' ? 'date' : node.type;
    const placeholder = this.builder.param(value);
    // A number facing a number keeps its cast: PostgreSQL compares integer widths across types (indexes still
    // apply) and a value out of a smallint column's range is simply unequal instead of an error.
    const bare = typed && !(node.type === 'number' && peer.kind === 'number');
    if (bare) return fragment(placeholder, P_ATOM, kind, { aggregate: false, bare: true, xtkType });
    return fragment(`${placeholder}::${cast}`, P_ATOM, kind, { aggregate: false, xtkType });
  }

  /** Resolves a path in the scope: `..` climbs to the parent query, single links are joined once. */
  private resolve(node: PathNode, allowCollection: boolean): Resolved {
    const segs = node.segments;
    let scope = this.ctx.scope;
    let i = 0;
    while (segs[i]?.kind === 'parent') {
      if (!scope.parent) throw this.error(`'..' refers to a parent query, but this is not a sub-query`, segs[i]!.pos, '..');
      scope = scope.parent;
      i++;
    }
    let schema = scope.schema;
    let index = scope.index;
    let alias = scope.alias;
    let key = '';
    const links: string[] = [];
    for (;;) {
      const rest = segs.slice(i);
      const xpath = segmentText(rest);
      const field = index.fields.get(xpath);
      if (field) return { kind: 'field', field, alias, links };
      const seg = segs[i]!;
      if (seg.kind === 'attribute') throw this.unknown('attribute', `@${seg.name}`, seg.pos);
      if (seg.kind === 'parent') throw this.error(`'..' is only allowed at the start of a path`, seg.pos, '..');
      const link = index.links.get(seg.name);
      if (!link) {
        if (index.elements.has(seg.name) || i === segs.length - 1) throw this.unknown('attribute', xpath, seg.pos);
        throw this.unknown('link', seg.name, seg.pos);
      }
      if (link.cardinality === 'collection') {
        if (!allowCollection) {
          throw this.error(
            `collection link '${seg.name}' can only be used alone in a condition (EXISTS) or in an aggregate such as Count([${seg.name}/@id])`,
            seg.pos,
            seg.name,
          );
        }
        return { kind: 'collection', link, ownerAlias: alias, ownerSchema: schema, scope, rest: segs.slice(i + 1), pos: seg.pos };
      }
      if (i === segs.length - 1) throw this.error(`link '${seg.name}' must be followed by an attribute, such as [${seg.name}/@id]`, seg.pos, seg.name);
      key = key ? `${key}/${seg.name}` : seg.name;
      const join = scope.join(key, alias, schema, link);
      alias = join.alias;
      schema = join.schema;
      index = getSchemaIndex(schema);
      links.push(seg.name);
      i++;
    }
  }

  private fieldFragment(r: Extract<Resolved, { kind: 'field' }>): SqlFragment {
    return fragment(`${quoteIdent(r.alias)}.${quoteIdent(r.field.column)}`, P_ATOM, KIND_OF_TYPE[r.field.type], {
      aggregate: false,
      xtkType: r.field.type,
      field: { field: r.field, links: r.links },
    });
  }

  private path(node: PathNode): SqlFragment {
    const r = this.resolve(node, this.ctx.allowExists);
    if (r.kind === 'field') return this.fieldFragment(r);
    if (r.rest.length > 0) {
      throw this.error(`collection link '${r.link.name}' can only be used alone in a condition (EXISTS) or in an aggregate`, r.pos, r.link.name);
    }
    return this.exists(r, () => undefined);
  }

  /** A scope over the target of a collection link, correlated with the row that owns it. */
  private collectionScope(r: Extract<Resolved, { kind: 'collection' }>): { child: QueryScope; on: string } {
    const target = this.builder.queryableSchema(r.link.target, `link '${r.link.name}' of ${r.ownerSchema.id}`);
    const child = new QueryScope(this.builder, target, this.builder.rootAlias(), r.scope);
    return { child, on: QueryScope.joinCondition(r.link, r.ownerAlias, r.ownerSchema, child.alias, target) };
  }

  /** `EXISTS (SELECT 1 FROM target WHERE <join> [AND <filter>])`; the filter is compiled in the target's scope. */
  exists(r: Extract<Resolved, { kind: 'collection' }>, filter: (child: QueryScope) => SqlFragment | undefined): SqlFragment {
    const { child, on } = this.collectionScope(r);
    const f = filter(child);
    const where = f ? `${on} AND ${wrap(f, P_AND)}` : on;
    return fragment(`EXISTS (SELECT 1 FROM ${child.from()} WHERE ${where})`, P_ATOM, 'boolean', { aggregate: false });
  }

  /** Resolves a condition's `expr` naming a collection link (for setOperator EXISTS). */
  collectionLink(node: ExprNode): Extract<Resolved, { kind: 'collection' }> {
    if (node.kind !== 'path') throw this.error('EXISTS needs the name of a collection link', node.pos);
    const r = this.resolve(node, true);
    if (r.kind !== 'collection' || r.rest.length > 0) throw this.error(`'${node.text}' is not a collection link`, node.pos, node.text);
    return r;
  }

  private arg(node: ExprNode, peer?: SqlFragment): SqlFragment {
    return node.kind === 'literal' ? this.literal(node, peer) : this.compile(node);
  }

  /** An integer argument (`substr` start and length, `round` digits). */
  private intArg(node: ExprNode): string {
    if (node.kind === 'literal' && node.type === 'number' && !node.decimal && typeof node.value === 'number' && Number.isInteger(node.value)) {
      return `${this.builder.param(node.value)}::integer`;
    }
    const f = this.compile(node);
    this.expectKind(f, ['number'], 'this argument', node.pos);
    return `CAST(${f.sql} AS integer)`;
  }

  /** An argument of a function, checked to be of one of `kinds`. */
  private typedArg(node: CallNode, kinds: ValueKind[], arg: ExprNode): SqlFragment {
    const f = this.arg(arg);
    this.expectKind(f, kinds, `function '${node.name}'`, arg.pos);
    return f;
  }

  private call(node: CallNode): SqlFragment {
    const fn = XTK_FUNCTIONS.get(node.name.toLowerCase())!;
    const a = node.args;
    if (fn.aggregate) return this.aggregate(node);
    switch (node.name) {
      case 'Lower':
      case 'Upper':
      case 'Trim':
      case 'LTrim':
      case 'RTrim': {
        const s = this.typedArg(node, ['string'], a[0]!);
        const sqlName = node.name === 'Trim' ? 'btrim' : node.name.toLowerCase();
        return fragment(`${sqlName}(${s.sql})`, P_ATOM, 'string', { aggregate: s.aggregate, xtkType: 'string' });
      }
      case 'Length':
      case 'Len': {
        const s = this.typedArg(node, ['string'], a[0]!);
        return fragment(`length(${s.sql})`, P_ATOM, 'number', { aggregate: s.aggregate, xtkType: 'long' });
      }
      case 'Substring': {
        const s = this.typedArg(node, ['string'], a[0]!);
        return fragment(`substr(${s.sql}, ${this.intArg(a[1]!)}, ${this.intArg(a[2]!)})`, P_ATOM, 'string', { aggregate: s.aggregate, xtkType: 'string' });
      }
      case 'Year':
      case 'Month':
      case 'Day':
      case 'Hour': {
        const d = this.typedArg(node, ['date', 'datetime'], a[0]!);
        // Campaign stores UTC: take the parts of the UTC wall-clock time, whatever the session time zone.
        const src = d.kind === 'date' ? d.sql : `timezone(make_interval(), ${d.sql})`;
        return fragment(`CAST(EXTRACT(${node.name.toUpperCase()} FROM ${src}) AS integer)`, P_ATOM, 'number', { aggregate: d.aggregate, xtkType: 'long' });
      }
      case 'GetDate':
        return fragment('now()', P_ATOM, 'datetime', { aggregate: false, xtkType: 'datetime' });
      case 'DateOnly': {
        const d = this.typedArg(node, ['date', 'datetime'], a[0]!);
        const sql = d.kind === 'date' ? d.sql : `CAST(timezone(make_interval(), ${d.sql}) AS date)`;
        return fragment(sql, d.kind === 'date' ? d.prec : P_ATOM, 'date', { aggregate: d.aggregate, xtkType: 'date' });
      }
      case 'GetEmailDomain': {
        const s = this.typedArg(node, ['string'], a[0]!);
        return fragment(`lower(split_part(${s.sql}, chr(64), 2))`, P_ATOM, 'string', { aggregate: s.aggregate, xtkType: 'string' });
      }
      case 'Abs': {
        const n = this.typedArg(node, ['number'], a[0]!);
        return fragment(`abs(${n.sql})`, P_ATOM, 'number', { aggregate: n.aggregate, xtkType: n.xtkType ?? 'double' });
      }
      case 'Round': {
        const n = this.typedArg(node, ['number'], a[0]!);
        if (a.length === 1) return fragment(`round(${n.sql})`, P_ATOM, 'number', { aggregate: n.aggregate, xtkType: 'double' });
        return fragment(`round(CAST(${n.sql} AS numeric), ${this.intArg(a[1]!)})`, P_ATOM, 'number', { aggregate: n.aggregate, xtkType: 'double' });
      }
      case 'Iif': {
        const c = this.compile(a[0]!);
        this.expectKind(c, ['boolean'], `function 'Iif'`, a[0]!.pos);
        const [t, e] = this.alike([a[1]!, a[2]!]) as [SqlFragment, SqlFragment];
        const typed = t.kind !== 'unknown' ? t : e;
        return fragment(`CASE WHEN ${c.sql} THEN ${t.sql} ELSE ${e.sql} END`, P_ATOM, typed.kind, {
          aggregate: c.aggregate || t.aggregate || e.aggregate,
          ...(typed.xtkType ? { xtkType: typed.xtkType } : {}),
        });
      }
      case 'IsNull':
      case 'Coalesce': {
        const parts = this.alike(a);
        const typed = parts.find((p) => p.kind !== 'unknown');
        return fragment(`COALESCE(${parts.map((p) => p.sql).join(', ')})`, P_ATOM, typed?.kind ?? 'unknown', {
          aggregate: parts.some((p) => p.aggregate),
          ...(typed?.xtkType ? { xtkType: typed.xtkType } : {}),
        });
      }
    }
    throw new Error(`function ${node.name} is in the allow-list but has no SQL translation`);
  }

  /** Arguments that must have one type (COALESCE, CASE branches): literals take the type of the others. */
  private alike(nodes: readonly ExprNode[]): SqlFragment[] {
    const out: (SqlFragment | undefined)[] = nodes.map((n) => (n.kind === 'literal' ? undefined : this.compile(n)));
    const peer = out.find((f) => f !== undefined && f.kind !== 'unknown');
    return nodes.map((n, i) => out[i] ?? this.literal(n as LiteralNode, peer));
  }

  private aggregate(node: CallNode): SqlFragment {
    const argNode = node.args[0];
    // An aggregate over a collection link (`Count([subscription/@id])`) is a correlated sub-query per row.
    if (argNode?.kind === 'path') {
      const r = this.resolve(argNode, true);
      if (r.kind === 'collection') return this.collectionAggregate(node, r);
      return this.finishAggregate(node, this.fieldFragment(r));
    }
    if (!argNode) return this.finishAggregate(node, undefined);
    return this.finishAggregate(node, this.arg(argNode));
  }

  private finishAggregate(node: CallNode, arg: SqlFragment | undefined): SqlFragment {
    if (!this.ctx.allowAggregates) {
      throw this.error(
        `aggregate function '${node.name}' is not allowed in ${this.ctx.clause}${this.ctx.clause === 'where' ? ' (use having)' : ''}`,
        node.pos,
        node.name,
      );
    }
    if (arg?.aggregate) throw this.error(`aggregate functions cannot be nested`, node.args[0]!.pos);
    const sql = aggregateSql(node.name, arg?.sql);
    return fragment(sql, P_ATOM, aggregateKind(node.name, arg), { aggregate: true, xtkType: aggregateType(node.name, arg) });
  }

  private collectionAggregate(node: CallNode, r: Extract<Resolved, { kind: 'collection' }>): SqlFragment {
    const { child, on } = this.collectionScope(r);
    let inner: SqlFragment | undefined;
    if (r.rest.length > 0) {
      const rest: PathNode = { kind: 'path', segments: r.rest, text: segmentText(r.rest), pos: r.rest[0]!.pos };
      const compiler = new SqlExpressionCompiler({ ...this.ctx, scope: child, allowAggregates: false, allowExists: false });
      inner = compiler.compile(rest);
    } else if (node.name !== 'Count') {
      throw this.error(`${node.name}() over collection link '${r.link.name}' needs an attribute, such as [${r.link.name}/@id]`, r.pos, r.link.name);
    }
    const sql = `(SELECT ${aggregateSql(node.name, inner?.sql)} FROM ${child.from()} WHERE ${on})`;
    return fragment(sql, P_ATOM, aggregateKind(node.name, inner), { aggregate: false, xtkType: aggregateType(node.name, inner) });
  }
}

function aggregateSql(name: string, arg: string | undefined): string {
  switch (name) {
    case 'countall':
      return 'count(*)';
    case 'Count':
      return arg === undefined ? 'count(*)' : `count(${arg})`;
    case 'CountDistinct':
      return `count(DISTINCT ${arg})`;
    default:
      return `${name.toLowerCase()}(${arg})`;
  }
}

function aggregateKind(name: string, arg: SqlFragment | undefined): ValueKind {
  if (name === 'Min' || name === 'Max') return arg?.kind ?? 'unknown';
  return 'number';
}

function aggregateType(name: string, arg: SqlFragment | undefined): XtkType {
  switch (name) {
    case 'Count':
    case 'CountDistinct':
    case 'countall':
      return 'int64';
    case 'Sum':
      return INTEGER_TYPES.has(arg?.xtkType) ? 'int64' : 'double';
    case 'Avg':
      return 'double';
    default:
      return arg?.xtkType ?? 'string';
  }
}
