import { type Database, type Enumeration, quoteIdent, type Schema, type XtkType } from '@cap/campaign-schema';
import type { XmlElement } from '@cap/campaign-xml';
import type { Condition, QueryDef, SelectNode, SimpleJsonQueryDef, SubQuery } from './query-def.model';
import { normaliseQueryDef } from './query-def.normaliser';
import { QueryError } from './query.error';
import { QueryScope } from './query.scope';
import type { CompiledQuery, ResultShape, ShapeColumn, ShapeEnumeration } from './result-shape.model';
import { getSchemaIndex } from './schema.index';
import { SqlExpressionCompiler, type FieldRef, type SqlFragment, type ValueKind } from './sql-expression.compiler';
import { StatementBuilder } from './statement.builder';
import type { ExprNode } from './xtk-expression.ast';
import { parseExpression, type ParseOptions } from './xtk-expression.parser';

export interface CompileOptions {
  /** The one database the query runs in; default: the root schema's first database. */
  database?: Database;
  /** Rows returned by a select without `lineCount` (default 200). */
  defaultLineCount?: number;
  /** Most rows a select may return: a larger `lineCount` is capped (default 10,000). */
  maxLineCount?: number;
  /** Limits on each expression (length, nesting). */
  parse?: ParseOptions;
  /**
   * Give a paged select (lineCount or startLine set) without `<orderBy>` a deterministic order, so that
   * consecutive pages neither overlap nor skip rows (ExecuteQuery). Default false: internal bulk reads
   * (DeleteCollection, workflow query activities) set a lineCount only as a cap and need no order.
   */
  orderPages?: boolean;
  /**
   * Keyset paging of paged selects whose order is total (see CompiledQuery.keyset). Given, an eligible select
   * also returns its sort keys as text in trailing columns `k0`, `k1`…; with `after` (the sort keys of the row
   * just before `startLine`, as such a column returned them), it reads the rows after that row, with
   * `LIMIT lineCount` and no OFFSET, instead of skipping `startLine` rows.
   */
  keyset?: { after?: readonly (string | null)[] };
}

export const DEFAULT_LINE_COUNT = 200;
export const MAX_LINE_COUNT = 10_000;

// SQL precedence levels, as in the expression compiler's output.
const P_OR = 1;
const P_AND = 2;
const P_NOT = 3;
const P_CMP = 4;
const P_CONCAT = 5;
const P_ATOM = 9;

function wrap(f: SqlFragment, minPrec: number): string {
  return f.prec >= minPrec ? f.sql : `(${f.sql})`;
}

function boolFragment(sql: string, prec: number, parts: SqlFragment[]): SqlFragment {
  return { sql, prec, kind: 'boolean', aggregate: parts.some((p) => p.aggregate) };
}

function and(parts: SqlFragment[]): SqlFragment {
  return parts.length === 1 ? parts[0]! : boolFragment(parts.map((p) => wrap(p, P_AND)).join(' AND '), P_AND, parts);
}

const TYPE_OF_KIND: Record<ValueKind, XtkType> = {
  string: 'string',
  number: 'double',
  boolean: 'boolean',
  date: 'date',
  datetime: 'datetime',
  unknown: 'string',
};

// Enumerations are frozen with their schema: their value maps are built once.
const enumCache = new WeakMap<Enumeration, ShapeEnumeration>();

function shapeEnumeration(e: Enumeration): ShapeEnumeration {
  let shaped = enumCache.get(e);
  if (!shaped) {
    const values: Record<string, { name: string; label: string }> = {};
    for (const v of e.values) values[v.value] = { name: v.name, label: v.label };
    shaped = { values };
    enumCache.set(e, shaped);
  }
  return shaped;
}

function findEnumeration(schemas: ReadonlyMap<string, Schema>, enumId: string): Enumeration | undefined {
  const colon = enumId.lastIndexOf(':');
  const schema = schemas.get(enumId.slice(0, colon));
  return schema ? getSchemaIndex(schema).enumerations.get(enumId.slice(colon + 1)) : undefined;
}

/** Compiles one queryDef into one statement; a fresh instance per call. */
class QueryDefCompiler {
  constructor(
    private readonly schemas: ReadonlyMap<string, Schema>,
    private readonly options: CompileOptions,
  ) {}

  private parse(expr: string): ExprNode {
    return parseExpression(expr, this.options.parse);
  }

  private expression(scope: QueryScope, expr: string, clause: string, allowAggregates: boolean): SqlFragment {
    return new SqlExpressionCompiler({ scope, expr, clause, allowAggregates, allowExists: false }).compile(this.parse(expr));
  }

  /** A list of sibling conditions: each `boolOperator` joins a condition to the next; AND binds tighter than OR. */
  private conditions(list: readonly Condition[], scope: QueryScope, clause: string, allowAggregates: boolean): SqlFragment | undefined {
    if (list.length === 0) return undefined;
    const groups: SqlFragment[][] = [[]];
    list.forEach((c, i) => {
      if (i > 0 && list[i - 1]!.boolOperator === 'OR') groups.push([]);
      groups[groups.length - 1]!.push(this.condition(c, scope, clause, allowAggregates));
    });
    const ands = groups.map(and);
    return ands.length === 1 ? ands[0]! : boolFragment(ands.map((a) => wrap(a, P_NOT)).join(' OR '), P_OR, ands);
  }

  private condition(c: Condition, scope: QueryScope, clause: string, allowAggregates: boolean): SqlFragment {
    const expr = c.expr ?? '';
    const ctx = { scope, expr, clause, allowAggregates, allowExists: true };
    if (c.setOperator) {
      const negated = c.setOperator.startsWith('NOT');
      if (c.subQuery) {
        if (c.conditions.length > 0) throw QueryError.invalid(`condition '${expr}': a condition with a subQuery cannot also have nested conditions`);
        const exists = c.setOperator.endsWith('EXISTS');
        const sub = this.subQuery(c.subQuery, scope, exists);
        if (exists) return boolFragment(`${negated ? 'NOT ' : ''}EXISTS (${sub})`, negated ? P_NOT : P_ATOM, []);
        if (c.expr === undefined) throw QueryError.invalid(`condition with setOperator ${c.setOperator}: 'expr' names the value to look for in the subQuery`);
        const operand = new SqlExpressionCompiler(ctx).compile(this.parse(expr));
        return boolFragment(`${wrap(operand, P_CONCAT)} ${negated ? 'NOT IN' : 'IN'} (${sub})`, P_CMP, [operand]);
      }
      if (c.setOperator === 'IN' || c.setOperator === 'NOT IN') {
        throw QueryError.invalid(`condition '${expr}': setOperator ${c.setOperator} needs a <subQuery>`);
      }
      if (c.expr === undefined)
        throw QueryError.invalid(`condition with setOperator ${c.setOperator} needs an 'expr' naming a collection link, or a <subQuery>`);
      const cmp = new SqlExpressionCompiler(ctx);
      const link = cmp.collectionLink(this.parse(expr));
      const exists = cmp.exists(link, (child) => this.conditions(c.conditions, child, 'where', false));
      return negated ? boolFragment(`NOT ${exists.sql}`, P_NOT, [exists]) : exists;
    }
    const parts: SqlFragment[] = [];
    if (c.expr !== undefined) parts.push(new SqlExpressionCompiler(ctx).condition(this.parse(expr)));
    const nested = this.conditions(c.conditions, scope, clause, allowAggregates);
    if (nested) parts.push(nested);
    return and(parts);
  }

  /** GROUP BY list: `<groupBy>` nodes and select nodes with `groupBy="true"` (reusing the select's SQL). */
  private groupBy(exprs: readonly string[], select: readonly SelectNode[], selected: readonly SqlFragment[], scope: QueryScope): string[] {
    const out: string[] = [];
    select.forEach((n, i) => {
      if (n.groupBy) out.push(selected[i]!.sql);
    });
    for (const e of exprs) {
      const same = select.findIndex((n) => n.expr.trim() === e.trim());
      const sql = same >= 0 ? selected[same]!.sql : this.expression(scope, e, 'groupBy', false).sql;
      if (!out.includes(sql)) out.push(sql);
    }
    return out;
  }

  private subQuery(sub: SubQuery, parent: QueryScope, exists: boolean): string {
    const builder = parent.builder;
    const schema = builder.queryableSchema(sub.schema, 'subQuery');
    const scope = new QueryScope(builder, schema, builder.rootAlias(), parent);
    const selected = sub.select.map((n) => this.expression(scope, n.expr, 'select', true));
    if (!exists && selected.length !== 1) {
      throw QueryError.invalid(`a subQuery used with IN must select exactly one <node>, not ${selected.length}`);
    }
    const where = this.conditions(sub.where, scope, 'where', false);
    const groupBy = this.groupBy(sub.groupBy, sub.select, selected, scope);
    const having = this.conditions(sub.having, scope, 'having', true);
    // EXISTS ignores what is selected, but the select's values are bound parameters of the statement: they stay in
    // it (a `SELECT 1` would leave them unreferenced, and PostgreSQL refuses the statement).
    const list = exists ? (selected.length > 0 ? selected.map((f) => f.sql).join(', ') : '1') : selected[0]!.sql;
    return `SELECT ${list} FROM ${scope.from()}${where ? ` WHERE ${where.sql}` : ''}${groupBy.length ? ` GROUP BY ${groupBy.join(', ')}` : ''}${having ? ` HAVING ${having.sql}` : ''}`;
  }

  private shapeColumn(node: SelectNode, i: number, f: SqlFragment): ShapeColumn {
    let path: string[];
    let name: string;
    let isElement: boolean;
    if (node.alias !== undefined) {
      const parts = node.alias.split('/');
      const last = parts.pop()!;
      path = parts;
      isElement = !last.startsWith('@');
      name = isElement ? last : last.slice(1);
    } else if (f.field) {
      path = [...f.field.links, ...f.field.field.path];
      name = f.field.field.name;
      isElement = f.field.field.isElement;
    } else {
      // A computed value without alias: Campaign callers alias these; we name it after its position.
      path = [];
      name = `expr${i}`;
      isElement = false;
    }
    const column: ShapeColumn = { alias: `c${i}`, path, name, isElement, type: f.xtkType ?? TYPE_OF_KIND[f.kind] };
    const enumId = f.field?.field.enumId;
    if (node.analyze && enumId !== undefined) {
      const e = findEnumeration(this.schemas, enumId);
      if (e) return { ...column, enumeration: shapeEnumeration(e) };
    }
    return column;
  }

  compile(q: QueryDef): CompiledQuery {
    const root = this.schemas.get(q.schema);
    if (!root) throw QueryError.invalid(`Unknown schema '${q.schema}'`, 'unknown-name');
    const database = this.options.database ?? root.databases[0] ?? 'local';
    const builder = new StatementBuilder(this.schemas, database);
    builder.queryableSchema(q.schema);
    const scope = new QueryScope(builder, root, builder.rootAlias());
    const base = { operation: q.operation, schemaId: root.id, rowName: root.name };

    if (q.operation === 'count') {
      const where = this.conditions(q.where, scope, 'where', false);
      const groupBy = this.groupBy(q.groupBy, [], [], scope);
      const having = this.conditions(q.having, scope, 'having', true);
      const body = `FROM ${scope.from()}${where ? ` WHERE ${where.sql}` : ''}${groupBy.length ? ` GROUP BY ${groupBy.join(', ')}` : ''}${having ? ` HAVING ${having.sql}` : ''}`;
      const sql = groupBy.length ? `SELECT count(*) AS "c0" FROM (SELECT 1 ${body}) AS "q"` : `SELECT count(*) AS "c0" ${body}`;
      return finish(sql, builder.params, { ...base, columns: [{ alias: 'c0', path: [], name: 'count', isElement: false, type: 'int64' }] });
    }

    if (q.select.length === 0) throw QueryError.invalid(`queryDef on '${q.schema}' selects nothing: add <select><node expr="…"/></select>`);
    const selected = q.select.map((n) => this.expression(scope, n.expr, 'select', true));
    const columns = q.select.map((n, i) => this.shapeColumn(n, i, selected[i]!));
    const where = this.conditions(q.where, scope, 'where', false);
    const groupBy = this.groupBy(q.groupBy, q.select, selected, scope);
    const having = this.conditions(q.having, scope, 'having', true);
    // Aggregates without <groupBy> make one row: a plain value that reads a column has no single value there
    // and PostgreSQL would refuse the statement. Say so as a query error the caller can fix. (With groupBy,
    // PostgreSQL's own functional-dependency rules apply; its refusal comes back as DATABASE_REFUSED.)
    if (groupBy.length === 0 && selected.some((f) => f.aggregate)) {
      selected.forEach((f, i) => {
        if (!f.aggregate && f.sql.includes('"')) {
          throw QueryError.invalid(`'${q.select[i]!.expr}' is selected next to aggregates without <groupBy>: group by it, or aggregate it (Min, Max, Count…)`);
        }
      });
    }
    // Each sort key with the fragment it sorts on (undefined: an expression keyset paging cannot reason about).
    const sortKeys: SortKey[] = q.orderBy.map((o) => {
      const e = o.expr.trim();
      let sql: string;
      let fragment: SqlFragment;
      const byAlias = q.select.findIndex((n) => n.alias === e);
      const byExpr = q.select.findIndex((n) => n.expr.trim() === e);
      if (byAlias >= 0 && !scope.index.fields.has(e)) {
        sql = quoteIdent(`c${byAlias}`);
        fragment = selected[byAlias]!;
      } else if (byExpr >= 0) {
        fragment = selected[byExpr]!;
        sql = fragment.sql;
      } else {
        fragment = this.expression(scope, o.expr, 'orderBy', true);
        sql = fragment.sql;
      }
      return { sql, desc: o.sortDesc, field: fragment.field, fieldSql: fragment.sql };
    });

    const paged = q.operation === 'select' && (q.lineCount !== undefined || q.startLine !== undefined);
    if (this.options.orderPages && paged && sortKeys.length === 0) {
      const pk = root.primaryKey ? root.fields.find((f) => f.xpath === root.primaryKey!.xpath) : undefined;
      const order = defaultPageOrder(q, root, scope.alias, groupBy, selected);
      for (const sql of order)
        sortKeys.push({ sql, desc: false, ...(pk && !q.distinct && groupBy.length === 0 ? { field: { field: pk, links: [] }, fieldSql: sql } : {}) });
    }
    const orderBy = sortKeys.map((k) => (k.desc ? `${k.sql} DESC` : k.sql));

    // Keyset paging: only for a plain paged select whose order is total (see keysetOrder).
    const keys =
      this.options.keyset && paged && !q.distinct && groupBy.length === 0 && !having && !selected.some((f) => f.aggregate)
        ? keysetOrder(sortKeys, root)
        : undefined;
    const after =
      keys && this.options.keyset?.after && this.options.keyset.after.length === keys.length && (q.startLine ?? 0) > 0 ? this.options.keyset.after : undefined;
    let filter = where;
    if (keys && after) {
      const rest = keysetCondition(keys, after, (v) => builder.param(v));
      filter = where ? and([where, rest]) : rest;
    }

    let limit: string;
    if (q.operation === 'select') {
      const max = this.options.maxLineCount ?? MAX_LINE_COUNT;
      const wanted = q.lineCount === undefined || q.lineCount === 0 ? (this.options.defaultLineCount ?? DEFAULT_LINE_COUNT) : q.lineCount;
      limit = ` LIMIT ${builder.param(Math.min(wanted, max))}`;
      if (q.startLine !== undefined && q.startLine > 0 && !after) limit += ` OFFSET ${builder.param(q.startLine)}`;
    } else {
      limit = ' LIMIT 1';
    }
    const outputs = selected.map((f, i) => `${f.sql} AS ${quoteIdent(`c${i}`)}`);
    if (keys) keys.forEach((k, i) => outputs.push(`${k.sql}::text AS ${quoteIdent(`k${i}`)}`));
    const sql =
      `SELECT ${q.distinct ? 'DISTINCT ' : ''}${outputs.join(', ')} FROM ${scope.from()}` +
      `${filter ? ` WHERE ${filter.sql}` : ''}${groupBy.length ? ` GROUP BY ${groupBy.join(', ')}` : ''}${having ? ` HAVING ${having.sql}` : ''}` +
      `${orderBy.length ? ` ORDER BY ${orderBy.join(', ')}` : ''}${limit}`;
    const compiled = finish(sql, builder.params, { ...base, columns });
    return keys ? { ...compiled, keyset: { keyCount: keys.length, applied: after !== undefined } } : compiled;
  }
}

/** One `ORDER BY` key; `field` when it is just a column (of the root table when `field.links` is empty). */
interface SortKey {
  sql: string;
  desc: boolean;
  field?: FieldRef | undefined;
  /** The key's own SQL (not the output alias it may be ordered by): what a WHERE clause can compare. */
  fieldSql?: string;
}

/** A sort key keyset paging compares: a root-table column, its direction, whether it may be NULL. */
interface KeysetKey {
  sql: string;
  desc: boolean;
  nullable: boolean;
}

/**
 * The sort keys of a paged select when they make a total order keyset paging can resume from: every key is a
 * column of the root table, and the keys include its primary key or every field of one of its keys (unique
 * indexes) whose fields are all NOT NULL. Otherwise undefined: rows that tie could come in any order, so only
 * OFFSET reproduces what OFFSET paging returns. Staging tables hold several versions of a row: never.
 */
function keysetOrder(sortKeys: readonly SortKey[], root: Schema): KeysetKey[] | undefined {
  if (sortKeys.length === 0 || root.placement === 'staging') return undefined;
  const keys: KeysetKey[] = [];
  const xpaths = new Set<string>();
  for (const k of sortKeys) {
    if (!k.field || k.field.links.length > 0 || k.fieldSql === undefined) return undefined;
    const isPk = root.primaryKey !== undefined && k.field.field.xpath === root.primaryKey.xpath;
    keys.push({ sql: k.fieldSql, desc: k.desc, nullable: !isPk && !k.field.field.notNull });
    xpaths.add(k.field.field.xpath);
  }
  const byXpath = new Map(root.fields.map((f) => [f.xpath, f]));
  const total =
    (root.primaryKey !== undefined && xpaths.has(root.primaryKey.xpath)) ||
    root.keys.some((key) => key.fields.length > 0 && key.fields.every((x) => xpaths.has(x) && byXpath.get(x)?.notNull === true));
  return total ? keys : undefined;
}

/**
 * `WHERE` condition selecting the rows that come after the row whose sort keys are `after`, in the order of
 * `keys` (PostgreSQL's default NULL placement: last when ascending, first when descending). Keys all NOT NULL
 * and in one direction: a row comparison, `(a, b) > ($1, $2)`, which a matching index answers directly.
 * Otherwise the expanded form `a > $1 OR (a = $1 AND b > $2)…`, with NULLs placed as PostgreSQL sorts them.
 * Values are bound parameters (text, typed by the column they are compared with).
 */
function keysetCondition(keys: readonly KeysetKey[], after: readonly (string | null)[], param: (value: unknown) => string): SqlFragment {
  const placeholders = after.map((v) => (v === null ? undefined : param(v)));
  const desc = keys[0]!.desc;
  if (keys.every((k, i) => !k.nullable && k.desc === desc && placeholders[i] !== undefined)) {
    const op = desc ? '<' : '>';
    if (keys.length === 1) return boolFragment(`${keys[0]!.sql} ${op} ${placeholders[0]!}`, P_CMP, []);
    return boolFragment(`(${keys.map((k) => k.sql).join(', ')}) ${op} (${placeholders.join(', ')})`, P_CMP, []);
  }
  const equal = (i: number): string => (placeholders[i] === undefined ? `${keys[i]!.sql} IS NULL` : `${keys[i]!.sql} = ${placeholders[i]!}`);
  const later = (i: number): string | undefined => {
    const k = keys[i]!;
    const p = placeholders[i];
    if (!k.desc) {
      if (p === undefined) return undefined; // NULLs come last: nothing sorts after a NULL but other NULLs.
      return k.nullable ? `(${k.sql} > ${p} OR ${k.sql} IS NULL)` : `${k.sql} > ${p}`;
    }
    if (p === undefined) return `${k.sql} IS NOT NULL`; // NULLs come first: every value sorts after them.
    return `${k.sql} < ${p}`;
  };
  const alternatives: string[][] = [];
  keys.forEach((_, i) => {
    const l = later(i);
    if (l !== undefined) alternatives.push([...keys.slice(0, i).map((__, j) => equal(j)), l]);
  });
  if (alternatives.length === 0) return boolFragment('FALSE', P_ATOM, []);
  if (alternatives.length === 1) return boolFragment(alternatives[0]!.join(' AND '), P_AND, []);
  return boolFragment(alternatives.map((parts) => (parts.length === 1 ? parts[0]! : `(${parts.join(' AND ')})`)).join(' OR '), P_OR, []);
}

/**
 * The order of a paged select (lineCount or startLine given) that has no `<orderBy>`: without one PostgreSQL
 * may return rows in any order, so consecutive pages could overlap or skip rows. Rows are ordered by the root
 * schema's primary key; a grouped select by its group-by expressions (each group is one row); a DISTINCT
 * select by every selected column. A select of aggregates only (one row) needs no order.
 */
function defaultPageOrder(q: QueryDef, root: Schema, rootAlias: string, groupBy: readonly string[], selected: readonly SqlFragment[]): string[] {
  if (groupBy.length > 0) return [...groupBy];
  if (selected.some((f) => f.aggregate)) return [];
  if (q.distinct) return selected.map((_, i) => quoteIdent(`c${i}`));
  return root.primaryKey ? [`${quoteIdent(rootAlias)}.${quoteIdent(root.primaryKey.column)}`] : [];
}

// The compiler never writes a string literal, a comment or a statement separator: values are parameters and
// identifiers come from compiled schemas. Checked on every statement, so a bug cannot turn into an injection.
const UNSAFE_SQL = /'|;|--|\/\*|\0/;

function finish(sql: string, params: unknown[], shape: ResultShape): CompiledQuery {
  if (UNSAFE_SQL.test(sql)) throw new Error(`internal error: the query compiler produced unsafe SQL: ${sql.slice(0, 200)}`);
  return { sql, params, shape };
}

/**
 * Compiles a queryDef (XML element, SimpleJson object or normalised QueryDef) on compiled schemas into one
 * PostgreSQL statement: `{ sql, params, shape }`. Every value of the request is a bind parameter (`$1`…),
 * every identifier comes from the schemas, each distinct single-link path is one LEFT JOIN (`t0`, `t1`…),
 * collection links are EXISTS or correlated sub-queries. Result columns are named `c0`, `c1`… in select
 * order; `shape` tells shapeRows() how to turn them into Campaign's result document.
 *
 * Throws QueryError / XtkExpressionError (QUERY_INVALID) for anything it cannot compile.
 */
export function compileQueryDef(
  input: XmlElement | SimpleJsonQueryDef | QueryDef,
  schemas: ReadonlyMap<string, Schema>,
  options: CompileOptions = {},
): CompiledQuery {
  return new QueryDefCompiler(schemas, options).compile(normaliseQueryDef(input));
}
