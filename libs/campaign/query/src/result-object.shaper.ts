import { QueryError } from './query.error';
import type { ResultShape } from './result-shape.model';
import { getShapePlan, readValue, type PlanElement, type ResultRow } from './result-shape.plan';

/** A result object in the SDK's SimpleJson form: attribute strings, nested objects, `$name` text elements. */
export type SimpleJsonObject = { [key: string]: string | SimpleJsonObject | SimpleJsonObject[] };

/**
 * One row as the object the SDK makes of its element (DomUtil.toJSON, SimpleJson flavour): child elements
 * first — a text element becomes `$name: text`, an empty one `name: {}` — then attributes, prefixed with
 * `@` when a child element already took the name.
 */
function put(obj: SimpleJsonObject, name: string, v: string): void {
  obj[Object.hasOwn(obj, name) ? `@${name}` : name] = v;
}

function buildObject(plan: PlanElement, row: ResultRow, emitEmpty: boolean, isRoot: boolean): SimpleJsonObject | undefined {
  const obj: SimpleJsonObject = {};
  let filled = false;
  for (const c of plan.children) {
    if (c.kind === 'text') {
      const v = c.value.format(readValue(row, c.value));
      if (v === undefined && !emitEmpty) continue;
      if (v === undefined || v === '') obj[c.value.name] = {};
      else obj[`$${c.value.name}`] = v;
      if (v !== undefined) filled = true;
    } else {
      const child = buildObject(c.element, row, emitEmpty, false);
      if (child) {
        obj[c.element.name] = child;
        filled = true;
      }
    }
  }
  for (const a of plan.attrs) {
    const v = a.format(readValue(row, a));
    if (v === undefined) {
      if (emitEmpty) {
        put(obj, a.name, '');
        if (a.enumeration) {
          put(obj, a.enumeration.nameAttr, '');
          put(obj, a.enumeration.labelAttr, '');
        }
      }
      continue;
    }
    put(obj, a.name, v);
    filled = true;
    if (a.enumeration) {
      const e = a.enumeration.values[v];
      if (e) {
        put(obj, a.enumeration.nameAttr, e.name);
        put(obj, a.enumeration.labelAttr, e.label);
      } else if (emitEmpty) {
        put(obj, a.enumeration.nameAttr, '');
        put(obj, a.enumeration.labelAttr, '');
      }
    }
  }
  if (!filled && !emitEmpty && !isRoot) return undefined;
  return obj;
}

/**
 * The same result as shapeRows(), as the plain objects the SDK returns for SimpleJson
 * (docs/campaign-api.md#executequery): select → `{ recipient: [ {…}, … ] }` (always an array, `[]` when empty); get → `{…}` or QueryError
 * NO_RECORD; getIfExists → `{…}` (every selected attribute) or `null`; count → `{ count: "N" }`.
 */
export function shapeRowsAsObjects(shape: ResultShape, rows: readonly ResultRow[]): SimpleJsonObject | null {
  const plan = getShapePlan(shape);
  switch (shape.operation) {
    case 'count': {
      const first = rows[0];
      return { count: first === undefined ? '0' : (plan.attrs[0]!.format(readValue(first, plan.attrs[0]!)) ?? '0') };
    }
    case 'get': {
      const first = rows[0];
      if (first === undefined) throw QueryError.noRecord(shape.schemaId);
      return buildObject(plan, first, false, true)!;
    }
    case 'getIfExists': {
      const first = rows[0];
      return first === undefined ? null : buildObject(plan, first, true, true)!;
    }
    case 'select': {
      const list: SimpleJsonObject[] = new Array<SimpleJsonObject>(rows.length);
      for (let i = 0; i < rows.length; i++) list[i] = buildObject(plan, rows[i]!, false, true)!;
      return { [shape.rowName]: list };
    }
  }
}
