/**
 * The one typed model of a queryDef, whatever form the caller used (the `<queryDef>` XML element or the
 * SDK's SimpleJson object). Produced by normaliseQueryDef(); compiled by compileQueryDef().
 */

export type QueryOperation = 'select' | 'get' | 'getIfExists' | 'count';

export interface SelectNode {
  expr: string;
  /** `@city` (or `location/@city`): where the value goes in the result row instead of the expression's path. */
  alias?: string;
  /** `analyze="true"`: an enumerated value also gets `<name>Name` and `<name>Label`. */
  analyze: boolean;
  /** `groupBy="true"`: shortcut for the same expression in `<groupBy>`. */
  groupBy: boolean;
}

export type SetOperator = 'EXISTS' | 'NOT EXISTS' | 'IN' | 'NOT IN';

export interface Condition {
  /** Absent for a pure bracket group (only nested conditions) or an EXISTS on a sub-query. */
  expr?: string;
  /** How this condition combines with the NEXT sibling (default AND). */
  boolOperator: 'AND' | 'OR';
  setOperator?: SetOperator;
  subQuery?: SubQuery;
  /** Nested conditions: a bracketed group, or the filter on the rows of an EXISTS collection link. */
  conditions: Condition[];
}

export interface OrderNode {
  expr: string;
  sortDesc: boolean;
}

/** A `<subQuery schema="…">`: same grammar as a queryDef, without paging and ordering. */
export interface SubQuery {
  schema: string;
  select: SelectNode[];
  where: Condition[];
  groupBy: string[];
  having: Condition[];
}

export interface QueryDef {
  /** Marks the normalised form (so compileQueryDef can tell it from raw SimpleJson). */
  readonly normalised: true;
  schema: string;
  operation: QueryOperation;
  distinct: boolean;
  lineCount?: number;
  startLine?: number;
  select: SelectNode[];
  where: Condition[];
  orderBy: OrderNode[];
  /** Expressions of `<groupBy><node expr/>` (select nodes with `groupBy="true"` are added by the compiler). */
  groupBy: string[];
  having: Condition[];
}

/**
 * The SDK's SimpleJson form: scalars are attributes, objects are child elements, arrays repeated elements
 * (a single node may be an object instead of a one-element array). Values may be strings, numbers or booleans.
 */
export type SimpleJsonQueryDef = { readonly [key: string]: unknown };
