import type { ResultShape, ShapeEnumeration } from './result-shape.model';
import { getValueFormatter, type ValueFormatter } from './value.formatter';

export interface PlanValue {
  /** Row key (`c0`) and position, for object rows and array rows. */
  readonly key: string;
  readonly index: number;
  readonly name: string;
  readonly format: ValueFormatter;
  /** analyze="true": attribute names and the value → name/label map. */
  readonly enumeration?: { readonly nameAttr: string; readonly labelAttr: string; readonly values: ShapeEnumeration['values'] };
}

export type PlanChild = { readonly kind: 'text'; readonly value: PlanValue } | { readonly kind: 'element'; readonly element: PlanElement };

/** One element of the row template: its attributes, then its child elements in order of first selection. */
export interface PlanElement {
  readonly name: string;
  readonly attrs: PlanValue[];
  readonly children: PlanChild[];
}

// A shape is immutable once compiled; its plan is built on first use.
const cache = new WeakMap<ResultShape, PlanElement>();

/** The row template of a shape: columns grouped by element path, in select order. */
export function getShapePlan(shape: ResultShape): PlanElement {
  let plan = cache.get(shape);
  if (plan) return plan;
  const root: PlanElement = { name: shape.rowName, attrs: [], children: [] };
  shape.columns.forEach((col, index) => {
    let el = root;
    for (const step of col.path) {
      let child = el.children.find((c): c is { kind: 'element'; element: PlanElement } => c.kind === 'element' && c.element.name === step);
      if (!child) {
        child = { kind: 'element', element: { name: step, attrs: [], children: [] } };
        el.children.push(child);
      }
      el = child.element;
    }
    const value: PlanValue = {
      key: col.alias,
      index,
      name: col.name,
      format: getValueFormatter(col.type),
      ...(col.enumeration ? { enumeration: { nameAttr: `${col.name}Name`, labelAttr: `${col.name}Label`, values: col.enumeration.values } } : {}),
    };
    if (col.isElement) el.children.push({ kind: 'text', value });
    else el.attrs.push(value);
  });
  cache.set(shape, root);
  plan = root;
  return plan;
}

/** A result row: keyed by column alias (`{ c0: …, c1: … }`) or positional (`rowMode: 'array'`). */
export type ResultRow = Readonly<Record<string, unknown>> | readonly unknown[];

export function readValue(row: ResultRow, v: PlanValue): unknown {
  return Array.isArray(row) ? row[v.index] : (row as Readonly<Record<string, unknown>>)[v.key];
}
