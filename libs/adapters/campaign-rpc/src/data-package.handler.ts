import { z } from 'zod';
import type { Database, Schema } from '@cap/campaign-schema';
import { executeWriteSteps } from '@cap/campaign-postgres';
import { checkWriteAccess, compileWritePlan, schemasWritten, WriteError, type RecordPlan } from '@cap/campaign-write';
import { parseXml, XmlParseError } from '@cap/campaign-xml';
import { appError, appErrorOf, ErrorCatalogue, errors } from '@cap/platform-errors';
import type { RpcHandler } from '@cap/platform-kafka';
import { withTransaction, type Pool } from '@cap/platform-postgres';
import { CLAIMED_RIGHTS, planWriteHere, type OperatorRightsLookup } from './data-write.handler';

const packageParams = z.object({
  /** The package's entities of this database, as one collection whose records carry their xtkschema. */
  doc: z
    .string()
    .min(1)
    .max(16 * 1024 * 1024),
  operatorId: z.string().max(64).optional(),
  operatorLogin: z.string().max(128).optional(),
  operatorRights: z.array(z.string().max(64)).max(256).optional(),
});

/** What installing one entity did: `created`, `updated`, `deleted`, or `unchanged` (nothing matched, `_operation="none"`). */
export type PackageOutcome = 'created' | 'updated' | 'deleted' | 'unchanged';

export interface PackageEntityReport {
  schema: string;
  /** How the entity is found again: its key fields (`@name=NmsX`), or the id generated for it. */
  key: string;
  outcome: PackageOutcome;
}

export interface PackageInstallResult {
  entities: PackageEntityReport[];
  /** Records created or updated through link sub-elements of the entities (not counted in `entities`). */
  linked: { inserted: number; updated: number; deleted: number };
}

/**
 * `data.installPackage`: the entities of a package stored in this service's database, written in ONE transaction
 * (all or nothing: an entity refused by the planner or by the database rolls the whole package back). Each entity is
 * reconciled as a Write would (`_key`, `_operation`, links); the caller must be an administrator — checked here
 * against this service's own view of the operator, whatever the gateway let through.
 */
export function createPackageHandler(deps: {
  pool: Pool;
  schemas: ReadonlyMap<string, Schema>;
  database: Database;
  operatorRights?: OperatorRightsLookup;
}): RpcHandler {
  const operatorRights = deps.operatorRights ?? CLAIMED_RIGHTS;
  return async (params, ctx) => {
    const p = packageParams.safeParse(params);
    if (!p.success) throw errors.invalidRequest('data.installPackage parameters', p.error.issues[0]?.message ?? 'rejected');
    const caller = await operatorRights(p.data);
    if (!caller.rights.includes('admin')) {
      const who = caller.login ? `operator '${caller.login}'` : 'this caller';
      throw appError(ErrorCatalogue.ACCESS_DENIED, { who, what: 'install a package (administrators only)' });
    }
    let plans: RecordPlan[];
    try {
      plans = planWriteHere(parseXml(p.data.doc), 'writeCollection', deps, p.data.operatorId);
      checkWriteAccess(schemasWritten(plans), caller);
    } catch (err) {
      if (err instanceof WriteError) throw appErrorOf(err);
      if (err instanceof XmlParseError) throw appError(ErrorCatalogue.SOAP_MALFORMED, { what: 'package', why: err.message });
      throw err;
    }
    // Compiled before the transaction: a record that cannot be compiled refuses the package before anything runs.
    const compiled = plans.map((plan) => {
      try {
        const steps = compileWritePlan([plan]);
        return { plan, links: steps.slice(0, linkStepCount(plan)), own: steps.slice(linkStepCount(plan)) };
      } catch (err) {
        if (err instanceof WriteError) throw appErrorOf(err);
        throw err;
      }
    });
    try {
      return await withTransaction(deps.pool, async (client) => {
        const result: PackageInstallResult = { entities: [], linked: { inserted: 0, updated: 0, deleted: 0 } };
        for (const { plan, links, own } of compiled) {
          const linked = await executeWriteSteps(client, links);
          result.linked.inserted += linked.inserted;
          result.linked.updated += linked.updated;
          result.linked.deleted += linked.deleted;
          const counts = await executeWriteSteps(client, own);
          const outcome: PackageOutcome = counts.inserted ? 'created' : counts.updated ? 'updated' : counts.deleted ? 'deleted' : 'unchanged';
          result.entities.push({ schema: plan.schema.id, key: describeEntity(plan), outcome });
        }
        // A caller that stopped waiting was told the call timed out: the package is rolled back, never half-believed.
        if (Date.now() > ctx.deadline) {
          throw appError(ErrorCatalogue.RPC_TIMEOUT, { detail: 'The package was not installed: its caller stopped waiting before it was written' });
        }
        return result;
      });
    } catch (err) {
      if (err instanceof WriteError) throw appErrorOf(err);
      throw err;
    }
  };
}

/** The steps compileWritePlan emits for a record's link sub-elements, before the record's own (write.sql.ts). */
function linkStepCount(plan: RecordPlan): number {
  return plan.links.reduce((n, { target }) => n + (target.operation === 'none' ? 1 : compileWritePlan([target]).length), 0);
}

function describeEntity(plan: RecordPlan): string {
  const show = (xpath: string, value: unknown) => `${xpath}=${value instanceof Date ? value.toISOString() : String(value)}`;
  if (plan.key.length > 0) return plan.key.map((k) => show(k.field.xpath, k.value)).join(',');
  const given = new Map(plan.values.map((v) => [v.field.xpath, v.value]));
  for (const key of plan.schema.keys) {
    if (key.fields.length > 0 && key.fields.every((x) => given.get(x) !== undefined && given.get(x) !== null)) {
      return key.fields.map((x) => show(x, given.get(x))).join(',');
    }
  }
  return plan.generatedId ? show(plan.schema.primaryKey?.xpath ?? '@id', plan.generatedId) : '(no key)';
}
