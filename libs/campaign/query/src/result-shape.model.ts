import type { XtkType } from '@cap/campaign-schema';
import type { QueryOperation } from './query-def.model';

/** Value → name and label of an enumeration, for select nodes with `analyze="true"`. */
export interface ShapeEnumeration {
  readonly values: Readonly<Record<string, { readonly name: string; readonly label: string }>>;
}

/** Where one SQL result column goes in the result document. */
export interface ShapeColumn {
  /** Column alias in the SQL (`c0`, `c1`…): rows are read by this key (or by position for array rows). */
  readonly alias: string;
  /** Elements above the value in the row element (`['location']` for `[location/@city]`, `['folder']`). */
  readonly path: readonly string[];
  /** Attribute name (`city`) or, for a text element, its element name (`comment`). */
  readonly name: string;
  /** A text element (`<comment>text</comment>`) rather than an attribute. */
  readonly isElement: boolean;
  /** How the value is written (booleans, dates, datetimes, numbers). */
  readonly type: XtkType;
  /** `analyze="true"` on an enumerated value: also `<name>Name` and `<name>Label`. */
  readonly enumeration?: ShapeEnumeration;
}

/**
 * Everything needed to turn the rows of a compiled query into Campaign's result document. Plain data
 * (JSON-serialisable), so a query compiled in one process can be shaped in another.
 */
export interface ResultShape {
  readonly operation: QueryOperation;
  readonly schemaId: string;
  /** The row element name: the schema name after the colon (`recipient` for `nms:recipient`). */
  readonly rowName: string;
  readonly columns: readonly ShapeColumn[];
}

export interface CompiledQuery {
  readonly sql: string;
  readonly params: unknown[];
  readonly shape: ResultShape;
  /**
   * Set when the select was compiled with the `keyset` option and its page order is total: the statement also
   * returns its `keyCount` sort keys as text, in columns `k0`, `k1`… after the shaped ones (the last row's are
   * what `keyset.after` takes to read the next page). `applied`: this statement reads the rows after
   * `keyset.after` (no OFFSET).
   */
  readonly keyset?: { readonly keyCount: number; readonly applied: boolean };
}
