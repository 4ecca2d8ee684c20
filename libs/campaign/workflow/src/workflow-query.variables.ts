import type { XmlElement } from '@cap/campaign-xml';
import type { Vars } from './workflow.model';

/**
 * `$(vars/@x)` and `$(instance/vars/@x)` in the conditions of a query activity's `<where>`. The variable's value
 * never reaches SQL text: it becomes an XTK **literal** in the expression, which the queryDef compiler binds
 * as a parameter like any other literal (`"r0"."email" = $1`).
 *
 * - Inside a string literal (`@email = '$(vars/@email)'`, Campaign's usual form) the value is written into the
 *   literal, escaped (`\'`, `\\`): the literal stays one string whatever the value holds.
 * - Outside one (`@age >= $(vars/@minAge)`) a value that reads as a plain decimal number becomes a number literal;
 *   any other value becomes a string literal.
 *
 * A variable that is not set is reported (the activity fails with its name): an empty value would silently
 * target another population.
 */

const PARAMETER = /\$\((instance\/)?vars\/@([A-Za-z_][A-Za-z0-9_]*)\)/y;
const NUMBER = /^-?\d{1,30}(\.\d{1,30})?$/;

export interface VariableRef {
  /** `vars.x` or `instance.vars.x`, as the log names it. */
  name: string;
  instance: boolean;
  key: string;
}

export type Lookup = (ref: VariableRef) => string | undefined;

/** Escapes text for the inside of an XTK string literal ('…'), as the tokenizer reads it back. */
export function escapeXtkString(value: string): string {
  return value.replace(/[\\']/g, (c) => `\\${c}`);
}

/** How a reference is written: `$(vars/@x)`, `$(instance/vars/@x)`. */
export function formatVariableRef(ref: VariableRef): string {
  return `$(${ref.instance ? 'instance/' : ''}vars/@${ref.key})`;
}

/** `$(…)` references in an expression, in order (duplicates kept). */
export function findVariableRefs(expr: string): VariableRef[] {
  const refs: VariableRef[] = [];
  substituteVariables(expr, (ref) => {
    refs.push(ref);
    return '';
  });
  return refs;
}

/**
 * Replaces each `$(vars/@x)` / `$(instance/vars/@x)` of an XTK expression by a literal of its value (see above).
 * Scans the expression as the XTK tokenizer does, so it knows whether a reference sits inside a string literal.
 * Returns the expression and the references whose variable is missing (left as they are).
 */
export function substituteVariables(expr: string, lookup: Lookup): { expr: string; missing: VariableRef[] } {
  let out = '';
  const missing: VariableRef[] = [];
  let inString = false;
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (c === '$') {
      PARAMETER.lastIndex = i;
      const m = PARAMETER.exec(expr);
      if (m) {
        const ref: VariableRef = { instance: m[1] !== undefined, key: m[2]!, name: `${m[1] ? 'instance.' : ''}vars.${m[2]!}` };
        const value = lookup(ref);
        if (value === undefined) {
          missing.push(ref);
          out += m[0];
        } else if (inString) out += escapeXtkString(value);
        else out += NUMBER.test(value) ? value : `'${escapeXtkString(value)}'`;
        i += m[0].length;
        continue;
      }
    }
    if (inString) {
      if (c === '\\' && (expr[i + 1] === "'" || expr[i + 1] === '\\')) {
        out += c + expr[i + 1]!;
        i += 2;
        continue;
      }
      if (c === "'") {
        if (expr[i + 1] === "'") {
          out += "''";
          i += 2;
          continue;
        }
        inString = false;
      }
    } else if (c === "'") inString = true;
    out += c;
    i++;
  }
  return { expr: out, missing };
}

/** The value a workflow variable substitutes with (text; numbers as JavaScript writes them). */
export function variableLookup(vars: Vars, instanceVars: Vars): Lookup {
  return (ref) => {
    const source = ref.instance ? instanceVars : vars;
    return Object.hasOwn(source, ref.key) ? String(source[ref.key]) : undefined;
  };
}

/**
 * A copy of a `<where>` element with the variables of every `expr` attribute replaced (nested conditions and
 * sub-queries included). `missing` names the variables that are not set (each once).
 */
export function bindWhereVariables(where: XmlElement, lookup: Lookup): { where: XmlElement; missing: VariableRef[] } {
  const missing = new Map<string, VariableRef>();
  const visit = (el: XmlElement): XmlElement => {
    const attrs = { ...el.attrs };
    for (const [name, value] of Object.entries(attrs)) {
      if (name !== 'expr' && !name.endsWith(':expr')) continue;
      const r = substituteVariables(value, lookup);
      r.missing.forEach((m) => missing.set(m.name, m));
      attrs[name] = r.expr;
    }
    return { ...el, attrs, children: el.children.map(visit) };
  };
  const bound = visit(where);
  return { where: bound, missing: [...missing.values()] };
}

/** Whether a `<where>` uses workflow variables at all. */
export function hasWhereVariables(where: XmlElement): boolean {
  const visit = (el: XmlElement): boolean =>
    Object.entries(el.attrs).some(([n, v]) => (n === 'expr' || n.endsWith(':expr')) && findVariableRefs(v).length > 0) || el.children.some(visit);
  return visit(where);
}
