import type { XmlElement } from '@cap/campaign-xml';
import type { Condition, OrderNode, QueryDef, QueryOperation, SelectNode, SetOperator, SimpleJsonQueryDef, SubQuery } from './query-def.model';
import { QueryError } from './query.error';

/** A read-only view of one element, in either representation. */
interface NodeView {
  attr(name: string): string | undefined;
  children(name: string): NodeView[];
  /** Names of attributes present (for refusing `sql=…`). */
  has(name: string): boolean;
}

function isXmlElement(value: unknown): value is XmlElement {
  const v = value as Partial<XmlElement> | null;
  return typeof v === 'object' && v !== null && typeof v.local === 'string' && Array.isArray(v.children) && typeof v.attrs === 'object';
}

/** Attributes by local name (`xsi:type` → `type`), computed once per element; namespace declarations left out. */
function localAttrs(el: XmlElement): Record<string, string> {
  const out: Record<string, string> = {};
  for (const qname in el.attrs) {
    const colon = qname.indexOf(':');
    if (colon < 0) out[qname] = el.attrs[qname]!;
    else if (qname.slice(0, colon) !== 'xmlns') {
      const local = qname.slice(colon + 1);
      if (!Object.hasOwn(out, local)) out[local] = el.attrs[qname]!;
    }
  }
  return out;
}

class XmlNodeView implements NodeView {
  private attrs: Record<string, string> | undefined;

  constructor(private readonly el: XmlElement) {}

  attr(name: string): string | undefined {
    const attrs = (this.attrs ??= localAttrs(this.el));
    return Object.hasOwn(attrs, name) ? attrs[name] : undefined;
  }

  children(name: string): NodeView[] {
    const out: NodeView[] = [];
    for (const c of this.el.children) if (c.local === name) out.push(new XmlNodeView(c));
    return out;
  }

  has(name: string): boolean {
    return this.attr(name) !== undefined;
  }
}

function jsonScalar(obj: SimpleJsonQueryDef, name: string): string | undefined {
  const v = Object.hasOwn(obj, name) ? obj[name] : Object.hasOwn(obj, `@${name}`) ? obj[`@${name}`] : undefined;
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw QueryError.invalid(`queryDef attribute '${name}' must be a string, a number or a boolean`);
}

class JsonNodeView implements NodeView {
  constructor(private readonly obj: SimpleJsonQueryDef) {}

  attr(name: string): string | undefined {
    return jsonScalar(this.obj, name);
  }

  children(name: string): NodeView[] {
    const v = Object.hasOwn(this.obj, name) ? this.obj[name] : undefined;
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    return list.map((item: unknown) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) throw QueryError.invalid(`queryDef element '${name}' must be an object`);
      return new JsonNodeView(item as SimpleJsonQueryDef);
    });
  }

  has(name: string): boolean {
    return jsonScalar(this.obj, name) !== undefined;
  }
}

const OPERATIONS: Record<string, QueryOperation> = { select: 'select', get: 'get', getifexists: 'getIfExists', count: 'count' };
const SET_OPERATORS: Record<string, SetOperator> = { EXISTS: 'EXISTS', 'NOT EXISTS': 'NOT EXISTS', IN: 'IN', 'NOT IN': 'NOT IN' };
const SCHEMA_ID = /^[A-Za-z_][A-Za-z0-9_]*:[A-Za-z_][A-Za-z0-9_]*$/;
// `@city`, `location/@city` (attributes) or `note` (a text element), as in XPath.
const ALIAS = /^(?:[A-Za-z_][A-Za-z0-9_-]*\/)*@?[A-Za-z_][A-Za-z0-9_-]*$/;
const MAX_CONDITION_DEPTH = 32;

function bool(view: NodeView, name: string, where: string): boolean {
  const v = view.attr(name);
  if (v === undefined || v === '') return false;
  const t = v.trim().toLowerCase();
  if (t === 'true' || t === '1') return true;
  if (t === 'false' || t === '0') return false;
  throw QueryError.invalid(`${where}: '${name}' must be true or false, not '${v}'`);
}

function count(view: NodeView, name: string): number | undefined {
  const v = view.attr(name);
  if (v === undefined || v.trim() === '') return undefined;
  if (!/^\s*\d{1,15}\s*$/.test(v)) throw QueryError.invalid(`queryDef '${name}' must be a whole number ≥ 0, not '${v.slice(0, 40)}'`);
  return Number(v);
}

function refuseSql(view: NodeView, where: string): void {
  if (view.has('sql')) throw QueryError.invalid(`${where}: native SQL ('sql' attribute) is not allowed`, 'unsupported');
}

function expr(view: NodeView, where: string, required: boolean): string | undefined {
  const e = view.attr('expr');
  if (e === undefined || e.trim() === '') {
    if (required) throw QueryError.invalid(`${where} needs an 'expr'`);
    return undefined;
  }
  return e;
}

function selectNodes(parent: NodeView | undefined): SelectNode[] {
  if (!parent) return [];
  return parent.children('node').map((n) => {
    refuseSql(n, 'select node');
    const e = expr(n, 'select node', true)!;
    if (n.children('node').length > 0 || n.children('where').length > 0) {
      throw QueryError.invalid(`select node '${e}': nested collections (child nodes under a collection link) are not supported`, 'unsupported');
    }
    const node: SelectNode = { expr: e, analyze: bool(n, 'analyze', 'select node'), groupBy: bool(n, 'groupBy', 'select node') };
    const alias = n.attr('alias');
    if (alias !== undefined && alias.trim() !== '') {
      const a = alias.trim();
      if (!ALIAS.test(a)) throw QueryError.invalid(`select node '${e}': alias '${a.slice(0, 60)}' must be an attribute name such as '@city'`, 'unsupported');
      node.alias = a;
    }
    return node;
  });
}

function conditions(parent: NodeView | undefined, depth: number): Condition[] {
  if (!parent) return [];
  if (depth > MAX_CONDITION_DEPTH) throw QueryError.invalid(`conditions nested deeper than ${MAX_CONDITION_DEPTH} levels`, 'limit');
  const out: Condition[] = [];
  for (const c of parent.children('condition')) {
    refuseSql(c, 'condition');
    if (bool(c, 'ignore', 'condition')) continue;
    if (c.has('enabledIf')) throw QueryError.invalid(`condition: 'enabledIf' (template parameters) is not supported`, 'unsupported');
    const e = expr(c, 'condition', false);
    const op = (c.attr('boolOperator') ?? c.attr('bool-operator') ?? 'AND').trim().toUpperCase();
    if (op !== 'AND' && op !== 'OR') throw QueryError.invalid(`condition '${e ?? ''}': boolOperator must be AND or OR, not '${op.slice(0, 20)}'`);
    const condition: Condition = { boolOperator: op, conditions: conditions(c, depth + 1) };
    if (e !== undefined) condition.expr = e;
    const setOp = c.attr('setOperator');
    if (setOp !== undefined && setOp.trim() !== '') {
      const s = SET_OPERATORS[setOp.trim().toUpperCase().replace(/\s+/g, ' ')];
      if (!s) throw QueryError.invalid(`condition '${e ?? ''}': setOperator must be EXISTS, NOT EXISTS, IN or NOT IN, not '${setOp.slice(0, 20)}'`);
      condition.setOperator = s;
    }
    const subs = c.children('subQuery');
    if (subs.length > 1) throw QueryError.invalid(`condition '${e ?? ''}': only one subQuery is allowed`);
    if (subs[0]) {
      if (!condition.setOperator) throw QueryError.invalid(`condition '${e ?? ''}': a subQuery needs setOperator (EXISTS, NOT EXISTS, IN or NOT IN)`);
      condition.subQuery = subQuery(subs[0], depth + 1);
    }
    if (condition.expr === undefined && condition.conditions.length === 0 && !condition.subQuery) continue;
    out.push(condition);
  }
  return out;
}

function schemaId(view: NodeView, where: string): string {
  const schema = view.attr('schema')?.trim();
  if (!schema) throw QueryError.invalid(`${where} needs a 'schema' attribute (such as 'nms:recipient')`);
  if (!SCHEMA_ID.test(schema)) throw QueryError.invalid(`${where}: '${schema.slice(0, 60)}' is not a schema id (namespace:name)`);
  return schema;
}

function groupByExprs(parent: NodeView | undefined): string[] {
  if (!parent) return [];
  return parent.children('node').map((n) => {
    refuseSql(n, 'groupBy node');
    return expr(n, 'groupBy node', true)!;
  });
}

function subQuery(view: NodeView, depth: number): SubQuery {
  if (depth > MAX_CONDITION_DEPTH) throw QueryError.invalid(`sub-queries nested deeper than ${MAX_CONDITION_DEPTH} levels`, 'limit');
  return {
    schema: schemaId(view, 'subQuery'),
    select: selectNodes(view.children('select')[0]),
    where: conditions(view.children('where')[0], depth + 1),
    groupBy: groupByExprs(view.children('groupBy')[0]),
    having: conditions(view.children('having')[0], depth + 1),
  };
}

function isNormalised(value: unknown): value is QueryDef {
  return typeof value === 'object' && value !== null && (value as { normalised?: unknown }).normalised === true;
}

/**
 * Turns a queryDef, as the `<queryDef>` XML element (docs/campaign-api.md#executequery) or as the SDK's SimpleJson
 * object, into the typed QueryDef model. Accepts `boolOperator` and `bool-operator`; refuses native SQL
 * (`sql="…"`), `enabledIf` and nested collection nodes with a QueryError (QUERY_INVALID).
 */
export function normaliseQueryDef(input: XmlElement | SimpleJsonQueryDef | QueryDef): QueryDef {
  if (isNormalised(input)) return input;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw QueryError.invalid('the queryDef must be an XML element or an object');
  const view: NodeView = isXmlElement(input) ? new XmlNodeView(input) : new JsonNodeView(input);
  const schema = schemaId(view, 'queryDef');
  const opText = view.attr('operation')?.trim() || 'select';
  const operation = OPERATIONS[opText.toLowerCase()];
  if (!operation) throw QueryError.invalid(`queryDef operation '${opText.slice(0, 40)}' is not supported (select, get, getIfExists, count)`, 'unsupported');
  const orderBy: OrderNode[] = (view.children('orderBy')[0]?.children('node') ?? []).map((n) => {
    refuseSql(n, 'orderBy node');
    return { expr: expr(n, 'orderBy node', true)!, sortDesc: bool(n, 'sortDesc', 'orderBy node') };
  });
  const q: QueryDef = {
    normalised: true,
    schema,
    operation,
    distinct: bool(view, 'distinct', 'queryDef'),
    select: selectNodes(view.children('select')[0]),
    where: conditions(view.children('where')[0], 0),
    orderBy,
    groupBy: groupByExprs(view.children('groupBy')[0]),
    having: conditions(view.children('having')[0], 0),
  };
  const lineCount = count(view, 'lineCount');
  if (lineCount !== undefined) q.lineCount = lineCount;
  const startLine = count(view, 'startLine');
  if (startLine !== undefined) q.startLine = startLine;
  return q;
}
