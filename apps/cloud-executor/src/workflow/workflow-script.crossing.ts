import { z } from 'zod';
import type { ScriptVars } from './workflow-script.protocol';

/**
 * What crosses from a script to the engine, read on the engine's side. The Campaign API inside the sandbox
 * (workflow-script.prelude.ts) sends everything as JSON text it builds itself; the script can still shape that
 * text (toJSON on the prototypes, getters, proxies…), so nothing is trusted: each crossing is parsed here and
 * checked against its schema. A crossing that does not match is refused — the worker fails the script with a
 * `protocol` failure (WORKFLOW_SCRIPT_MALFORMED) — and never reaches the engine's code as an unexpected value.
 */

/** The scopes of workflow variables a script hands back, as the messages name them. */
export const VARIABLE_SCOPES = { vars: 'vars', instanceVars: 'instance.vars', taskVars: 'task.vars' } as const;
export type VariableScope = (typeof VARIABLE_SCOPES)[keyof typeof VARIABLE_SCOPES];

/** What a script leaves when it ends (its variables, and why it failed if it did without throwing). */
export interface ScriptResults {
  /** The message of logError(), when the script called it (it fails even if it caught the exception). */
  failure: string | null;
  /** The earliest promise rejection nothing handled (an async function that threw after an await…). */
  rejection: { name: string; message: string; stack: string } | null;
  vars: ScriptVars;
  instanceVars: ScriptVars;
  taskVars: ScriptVars;
  /** Variables not kept (objects, arrays, NaN…), as `vars.x`. */
  dropped: string[];
}

export type ResultsRead = { ok: true; results: ScriptResults } | { ok: false; kind: 'protocol' | 'variablesLimit'; message: string };

const varValue = z.union([z.string(), z.number(), z.boolean()]);
/** Variables cross as [name, value] pairs: an object would let a variable named `__proto__` or `constructor` change how it is read. */
const varPairs = z.array(z.tuple([z.string().refine((name) => name !== '__proto__', 'not a variable name'), varValue]));
const resultsSchema = z.strictObject({
  failure: z.string().nullable(),
  rejection: z.strictObject({ name: z.string(), message: z.string(), stack: z.string() }).nullable(),
  vars: varPairs,
  instanceVars: varPairs,
  taskVars: varPairs,
  dropped: z.array(z.string()),
});
/** What the sandbox sends instead when a scope was already over the limit there (it stops serialising at once). */
const overLimitSchema = z.strictObject({
  overLimit: z.strictObject({ scope: z.enum([VARIABLE_SCOPES.vars, VARIABLE_SCOPES.instanceVars, VARIABLE_SCOPES.taskVars]), name: z.string() }),
});
const logLineSchema = z.tuple([z.enum(['info', 'warning', 'error']), z.string()]);

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** The message naming the variables limit (WORKFLOW_VARIABLES_MAX_BYTES). */
export function variablesLimitMessage(scope: VariableScope, maxBytes: number, name?: string): string {
  return `the variables in ${scope} are larger than WORKFLOW_VARIABLES_MAX_BYTES (${maxBytes} bytes as JSON)${name !== undefined ? ` at ${scope}.${name.slice(0, 64)}` : ''}`;
}

const malformed = (what: string): ResultsRead => ({
  ok: false,
  kind: 'protocol',
  message: `the script's results crossed the sandbox boundary malformed (${what})`,
});

/**
 * Reads what `collect()` returned: the variables of each scope must be text, finite numbers or booleans, and
 * each scope's variables at most `maxBytes` as UTF-8 JSON (the engine stores them as such per task).
 */
export function readScriptResults(text: string, maxBytes: number): ResultsRead {
  const parsed = parseJson(text);
  if (!parsed.ok) return malformed('not JSON');
  const over = overLimitSchema.safeParse(parsed.value);
  if (over.success) return { ok: false, kind: 'variablesLimit', message: variablesLimitMessage(over.data.overLimit.scope, maxBytes, over.data.overLimit.name) };
  const read = resultsSchema.safeParse(parsed.value);
  if (!read.success) {
    const issue = read.error.issues[0];
    return malformed(issue ? `${issue.path.join('.') || 'the results'}: ${issue.message}` : 'rejected');
  }
  const r = read.data;
  const scopes = { vars: Object.fromEntries(r.vars), instanceVars: Object.fromEntries(r.instanceVars), taskVars: Object.fromEntries(r.taskVars) } as const;
  for (const key of ['vars', 'instanceVars', 'taskVars'] as const) {
    if (Buffer.byteLength(JSON.stringify(scopes[key]), 'utf8') > maxBytes)
      return { ok: false, kind: 'variablesLimit', message: variablesLimitMessage(VARIABLE_SCOPES[key], maxBytes) };
  }
  return { ok: true, results: { failure: r.failure, rejection: r.rejection, ...scopes, dropped: r.dropped } };
}

/** A log line (`[level, message]`), or undefined when it is not one. */
export function readLogLine(text: string): { level: 'info' | 'warning' | 'error'; message: string } | undefined {
  const parsed = parseJson(text);
  const line = parsed.ok ? logLineSchema.safeParse(parsed.value) : undefined;
  return line?.success ? { level: line.data[0], message: line.data[1] } : undefined;
}

/**
 * The arguments of a host call: a JSON object (each operation's own schema is checked by the engine,
 * workflow-script.host.ts), or undefined when they are not one.
 */
export function readCallArgs(text: string): Record<string, unknown> | undefined {
  const parsed = parseJson(text);
  if (!parsed.ok || parsed.value === null || typeof parsed.value !== 'object' || Array.isArray(parsed.value)) return undefined;
  return parsed.value as Record<string, unknown>;
}
