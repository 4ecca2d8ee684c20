import { quoteIdent } from '@cap/campaign-schema';
import type { SqlValue } from './value.converter';
import { ErrorCatalogue } from '@cap/platform-errors';
import { WriteError } from './write.errors';
import type { FieldValue, RecordPlan } from './write.planner';

export interface SqlStatement {
  sql: string;
  params: SqlValue[];
}

/**
 * What the executor runs, in order, in ONE transaction:
 * - `exec`: run; with `requireRow`, fail with that message when the statement matched no row;
 * - `updateElseInsert`: run the update; when it matched no row, run the insert (insertOrUpdate).
 */
export type WriteStep =
  | { kind: 'exec'; schema: string; statement: SqlStatement; requireRow?: string }
  | { kind: 'updateElseInsert'; schema: string; update: SqlStatement; insert: SqlStatement };

class Builder {
  readonly params: SqlValue[] = [];
  bind(value: SqlValue): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
}

/** Compiles reconciled records into parameterised statements: every value is bound, every name comes from a schema. */
export function compileWritePlan(plans: RecordPlan[]): WriteStep[] {
  const steps: WriteStep[] = [];
  for (const plan of plans) compileRecord(plan, steps);
  return steps;
}

function compileRecord(plan: RecordPlan, steps: WriteStep[]): void {
  for (const { target } of plan.links) {
    if (target.operation === 'none') {
      const b = new Builder();
      steps.push({
        kind: 'exec',
        schema: target.schema.id,
        statement: { sql: `SELECT 1 FROM ${quoteIdent(target.schema.table)} WHERE ${whereKey(target, b)} LIMIT 1`, params: b.params },
        requireRow: `${ErrorCatalogue.LINK_NOT_FOUND.code} No ${target.schema.id} matches ${describeKey(target.key)} (linked from ${plan.schema.id}, line ${target.line})`,
      });
    } else {
      compileRecord(target, steps);
    }
  }
  const schema = plan.schema;
  const table = quoteIdent(schema.table);
  const staging = schema.placement === 'staging';

  if (staging) {
    steps.push({ kind: 'exec', schema: schema.id, statement: stagingInsert(plan) });
    return;
  }
  switch (plan.operation) {
    case 'none':
      return;
    case 'delete': {
      const b = new Builder();
      steps.push({ kind: 'exec', schema: schema.id, statement: { sql: `DELETE FROM ${table} WHERE ${whereKey(plan, b)}`, params: b.params } });
      return;
    }
    case 'insert':
      steps.push({ kind: 'exec', schema: schema.id, statement: insertStatement(plan, [...plan.key, ...plan.values, ...plan.onInsert, ...plan.onWrite]) });
      return;
    case 'update': {
      const update = updateStatement(plan);
      if (update) steps.push({ kind: 'exec', schema: schema.id, statement: update });
      return;
    }
    case 'insertOrUpdate': {
      const update = updateStatement(plan) ?? { sql: `SELECT 1 FROM ${table} WHERE ${whereKey(plan, new Builder())}`, params: plan.key.map((k) => k.value) };
      steps.push({
        kind: 'updateElseInsert',
        schema: schema.id,
        update,
        insert: insertStatement(plan, [...plan.key, ...plan.values, ...plan.onInsert, ...plan.onWrite]),
      });
      return;
    }
  }
}

function linkAssignments(plan: RecordPlan, b: Builder): { column: string; expr: string }[] {
  return plan.links.map(({ link, target }) => {
    if (link.joins.length !== 1)
      throw new WriteError(
        ErrorCatalogue.UNKNOWN_FIELD,
        `Link '${link.name}' of ${plan.schema.id} joins on several fields and cannot be set from a sub-element`,
        { schema: plan.schema.id },
      );
    const join = link.joins[0]!;
    const fk = plan.schema.fields.find((f) => f.xpath === join.src)!;
    const dst = target.schema.fields.find((f) => f.xpath === join.dst)!;
    if (target.key.length === 0) {
      if (target.generatedId !== undefined && target.schema.primaryKey?.xpath === join.dst) return { column: fk.column, expr: b.bind(target.generatedId) };
      throw new WriteError(ErrorCatalogue.NO_KEY, `The linked ${target.schema.id} (line ${target.line}) needs a key so ${plan.schema.id} can point to it`, {
        schema: target.schema.id,
      });
    }
    return { column: fk.column, expr: `(SELECT ${quoteIdent(dst.column)} FROM ${quoteIdent(target.schema.table)} WHERE ${whereKey(target, b)} LIMIT 1)` };
  });
}

function insertStatement(plan: RecordPlan, values: FieldValue[]): SqlStatement {
  const b = new Builder();
  const columns: string[] = [];
  const exprs: string[] = [];
  const seen = new Set<string>();
  for (const fv of values) {
    if (seen.has(fv.field.column)) continue;
    seen.add(fv.field.column);
    columns.push(quoteIdent(fv.field.column));
    exprs.push(b.bind(fv.value));
  }
  for (const a of linkAssignments(plan, b)) {
    if (seen.has(a.column)) continue;
    seen.add(a.column);
    columns.push(quoteIdent(a.column));
    exprs.push(a.expr);
  }
  const table = quoteIdent(plan.schema.table);
  const sql = columns.length === 0 ? `INSERT INTO ${table} DEFAULT VALUES` : `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${exprs.join(', ')})`;
  return { sql, params: b.params };
}

function updateStatement(plan: RecordPlan): SqlStatement | undefined {
  const b = new Builder();
  const sets = [...plan.values, ...plan.onWrite].map((fv) => `${quoteIdent(fv.field.column)} = ${b.bind(fv.value)}`);
  for (const a of linkAssignments(plan, b)) sets.push(`${quoteIdent(a.column)} = ${a.expr}`);
  if (sets.length === 0) return undefined;
  return { sql: `UPDATE ${quoteIdent(plan.schema.table)} SET ${sets.join(', ')} WHERE ${whereKey(plan, b)}`, params: b.params };
}

function whereKey(plan: RecordPlan, b: Builder): string {
  if (plan.key.length === 0) throw new WriteError(ErrorCatalogue.NO_KEY, `No key to find ${plan.schema.id} (line ${plan.line})`, { schema: plan.schema.id });
  return plan.key.map((k) => `${quoteIdent(k.field.column)} = ${b.bind(k.value)}`).join(' AND ');
}

function describeKey(key: FieldValue[]): string {
  return key.map((k) => `${k.field.xpath}='${String(k.value)}'`).join(' and ');
}

/**
 * Ingest/IngestExt append a version of the record to the staging table: `cap_op` says upsert or delete and
 * `cap_fields` lists the columns the caller actually gave, so the sync updates only those in the cloud.
 */
function stagingInsert(plan: RecordPlan): SqlStatement {
  const b = new Builder();
  const values = plan.operation === 'delete' ? plan.key : dedupe([...plan.key, ...plan.values, ...plan.onInsert, ...plan.onWrite]);
  const columns = values.map((fv) => quoteIdent(fv.field.column));
  const exprs = values.map((fv) => b.bind(fv.value));
  columns.push('"cap_op"', '"cap_fields"', '"cap_key"');
  exprs.push(
    b.bind(plan.operation === 'delete' ? 'delete' : 'upsert'),
    `${b.bind(`{${values.map((v) => v.field.column).join(',')}}`)}::text[]`,
    `${b.bind(`{${stagingKey(plan, values).join(',')}}`)}::text[]`,
  );
  return { sql: `INSERT INTO ${quoteIdent(plan.schema.table)} (${columns.join(', ')}) VALUES (${exprs.join(', ')})`, params: b.params };
}

/**
 * The columns that identify a staged record in the cloud table: the reconciliation key of IngestExt
 * (`_key`), else the primary key (Ingest generates it), else the first schema key the record fills.
 */
function stagingKey(plan: RecordPlan, values: FieldValue[]): string[] {
  if (plan.key.length > 0) return plan.key.map((k) => k.field.column);
  const given = new Map(values.filter((v) => v.value !== null).map((v) => [v.field.xpath, v.field.column]));
  const pk = plan.schema.primaryKey;
  if (pk && given.has(pk.xpath)) return [pk.column];
  for (const key of plan.schema.keys) {
    if (key.fields.length > 0 && key.fields.every((x) => given.has(x))) return key.fields.map((x) => given.get(x)!);
  }
  throw new WriteError(
    ErrorCatalogue.NO_KEY,
    `The ${plan.schema.id} record (line ${plan.line}) has no key to find it in the cloud database: give the primary key or set _key`,
    { schema: plan.schema.id },
  );
}

function dedupe(values: FieldValue[]): FieldValue[] {
  const seen = new Set<string>();
  return values.filter((v) => (seen.has(v.field.column) ? false : (seen.add(v.field.column), true)));
}
