/**
 * Campaign's generated-name default: `default="'DM'+CounterValue('DeliveryId')"` gives each new record a prefix
 * followed by the next value of a named counter (a delivery's `@internalName` `DM42`). It is an expression, not a
 * value: the table's DDL sets no SQL default for it, and xtk:persist#NewInstance (and Duplicate, for a field with
 * `defOnDuplicate`) take the counter's next value. Only this form is understood: any other text stays a literal.
 */
export interface CounterDefault {
  prefix: string;
  /** The counter's name as the schema spells it (compared without case where counters are looked up). */
  counter: string;
}

const COUNTER_DEFAULT = /^\s*'([A-Za-z0-9_-]{0,32})'\s*\+\s*CounterValue\(\s*'([A-Za-z][A-Za-z0-9_]{0,63})'\s*\)\s*$/;

/** The counter a field's `default` names, or undefined when the default is a plain value (or absent). */
export function counterDefault(raw: string | undefined): CounterDefault | undefined {
  if (raw === undefined) return undefined;
  const m = COUNTER_DEFAULT.exec(raw);
  return m ? { prefix: m[1]!, counter: m[2]! } : undefined;
}
