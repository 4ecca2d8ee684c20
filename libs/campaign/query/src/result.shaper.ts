import { serializeXml, type XmlElement } from '@cap/campaign-xml';
import { QueryError } from './query.error';
import type { ResultShape } from './result-shape.model';
import { getShapePlan, readValue, type PlanElement, type ResultRow } from './result-shape.plan';

function xml(name: string, attrs: Record<string, string>, children: XmlElement[], text: string): XmlElement {
  return { name, local: name, prefix: '', ns: '', attrs, children, text, line: 0, column: 0 };
}

/**
 * One row as an element. NULLs are omitted and so are nested elements left empty, unless `emitEmpty`
 * (getIfExists found a record: every selected value is written, "" for NULL).
 */
function buildElement(plan: PlanElement, row: ResultRow, emitEmpty: boolean, isRoot: boolean): XmlElement | undefined {
  const attrs: Record<string, string> = {};
  let filled = false;
  for (const a of plan.attrs) {
    const v = a.format(readValue(row, a));
    if (v === undefined) {
      if (emitEmpty) {
        attrs[a.name] = '';
        if (a.enumeration) {
          attrs[a.enumeration.nameAttr] = '';
          attrs[a.enumeration.labelAttr] = '';
        }
      }
      continue;
    }
    attrs[a.name] = v;
    filled = true;
    if (a.enumeration) {
      const e = a.enumeration.values[v];
      if (e) {
        attrs[a.enumeration.nameAttr] = e.name;
        attrs[a.enumeration.labelAttr] = e.label;
      } else if (emitEmpty) {
        attrs[a.enumeration.nameAttr] = '';
        attrs[a.enumeration.labelAttr] = '';
      }
    }
  }
  const children: XmlElement[] = [];
  for (const c of plan.children) {
    if (c.kind === 'text') {
      const v = c.value.format(readValue(row, c.value));
      if (v === undefined && !emitEmpty) continue;
      children.push(xml(c.value.name, {}, [], v ?? ''));
      if (v !== undefined) filled = true;
    } else {
      const child = buildElement(c.element, row, emitEmpty, false);
      if (child) {
        children.push(child);
        filled = true;
      }
    }
  }
  if (!filled && !emitEmpty && !isRoot) return undefined;
  return xml(plan.name, attrs, children, '');
}

/**
 * Turns the rows of a compiled query into Campaign's result document (docs/campaign-api.md#executequery):
 * select → `<recipient-collection><recipient …/>…</recipient-collection>` (empty collection when no rows);
 * get → `<recipient …/>`, or QueryError NO_RECORD when there is no row; getIfExists → the element with
 * every selected attribute (even empty), or an empty `<recipient/>`; count → `<recipient count="N"/>`.
 */
export function shapeRows(shape: ResultShape, rows: readonly ResultRow[]): XmlElement {
  const plan = getShapePlan(shape);
  switch (shape.operation) {
    case 'count': {
      const first = rows[0];
      const n = first === undefined ? '0' : (plan.attrs[0]!.format(readValue(first, plan.attrs[0]!)) ?? '0');
      return xml(shape.rowName, { count: n }, [], '');
    }
    case 'get': {
      const first = rows[0];
      if (first === undefined) throw QueryError.noRecord(shape.schemaId);
      return buildElement(plan, first, false, true)!;
    }
    case 'getIfExists': {
      const first = rows[0];
      return first === undefined ? xml(shape.rowName, {}, [], '') : buildElement(plan, first, true, true)!;
    }
    case 'select': {
      const children: XmlElement[] = new Array<XmlElement>(rows.length);
      for (let i = 0; i < rows.length; i++) children[i] = buildElement(plan, rows[i]!, false, true)!;
      return xml(`${shape.rowName}-collection`, {}, children, '');
    }
  }
}

/** Builds a result document from rows that arrive in chunks (a server-side cursor): see createResultBuilder(). */
export interface ResultBuilder<T> {
  /** Shapes one chunk of rows; the chunk can be dropped once this returns. */
  add(rows: readonly ResultRow[]): void;
  /** The result document of every row added, as shapeRows() makes it (or its serialised text). */
  build(): T;
}

/**
 * A builder over a select's rows, chunk by chunk: each row element is made as its chunk arrives and handed to
 * `keep` (the caller decides what is held: the element, or its text); the other operations keep only the first
 * row (they read at most one) and are shaped by shapeRows() at the end.
 */
function createChunkedBuilder<T, K>(
  shape: ResultShape,
  keep: (row: XmlElement) => K,
  collection: (kept: K[]) => T,
  single: (doc: XmlElement) => T,
): ResultBuilder<T> {
  const plan = getShapePlan(shape);
  const kept: K[] = [];
  let first: ResultRow | undefined;
  return {
    add(rows) {
      if (shape.operation !== 'select') {
        if (first === undefined && rows.length > 0) first = rows[0];
        return;
      }
      for (let i = 0; i < rows.length; i++) kept.push(keep(buildElement(plan, rows[i]!, false, true)!));
    },
    build() {
      if (shape.operation !== 'select') return single(shapeRows(shape, first === undefined ? [] : [first]));
      return collection(kept);
    },
  };
}

/**
 * Same document as shapeRows(shape, allRows), built chunk by chunk: a select's row elements are made as each
 * chunk arrives, so the caller never holds more raw rows than one chunk.
 */
export function createResultBuilder(shape: ResultShape): ResultBuilder<XmlElement> {
  return createChunkedBuilder(
    shape,
    (row) => row,
    (children) => xml(`${shape.rowName}-collection`, {}, children, ''),
    (doc) => doc,
  );
}

/**
 * serializeXml(shapeRows(shape, allRows)), built chunk by chunk: each row of a select is serialised as its chunk
 * arrives and only its text is kept (a page of 10,000 rows is ~1.7 MB of text instead of ~8 MB of element
 * tree), so a batch read holds one chunk of raw rows plus the text of the page so far.
 */
export function createResultTextBuilder(shape: ResultShape): ResultBuilder<string> {
  const root = `${shape.rowName}-collection`;
  return createChunkedBuilder(
    shape,
    (row) => serializeXml(row),
    (parts) => (parts.length === 0 ? `<${root}/>` : `<${root}>${parts.join('')}</${root}>`),
    (doc) => serializeXml(doc),
  );
}
