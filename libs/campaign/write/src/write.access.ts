import type { Schema } from '@cap/campaign-schema';
import { ErrorCatalogue, renderMessage } from '@cap/platform-errors';
import { WriteError } from './write.errors';
import type { RecordPlan } from './write.planner';

/** Who writes: an operator's named rights (`admin` holds every right), or none for a caller acting for nobody. */
export interface WriteCaller {
  login?: string;
  rights: readonly string[];
}

/**
 * Every schema a planned write creates, updates or deletes rows of: each record's own schema and, through
 * link sub-elements, the schema of every linked record it creates or updates (a link to an existing record,
 * `_operation="none"`, only reads it).
 */
export function schemasWritten(plans: readonly RecordPlan[]): Schema[] {
  const out = new Map<string, Schema>();
  const visit = (plan: RecordPlan) => {
    if (plan.operation !== 'none') out.set(plan.schema.id, plan.schema);
    for (const { target } of plan.links) visit(target);
  };
  for (const plan of plans) visit(plan);
  return [...out.values()];
}

/** True when some schema of the write restricts who may write it: the caller's rights must then be known. */
export function needsWriteRights(schemas: readonly Schema[]): boolean {
  return schemas.some((s) => s.writeRights.length > 0);
}

/**
 * Refuses the whole write (ACCESS_DENIED) when the caller lacks a right one of the written schemas requires
 * (`<sysFilter name="writeAccess">`). Checked by the service that applies the write, on every record and
 * every linked record, whatever the container or the first record says.
 */
export function checkWriteAccess(schemas: readonly Schema[], caller: WriteCaller): void {
  if (caller.rights.includes('admin')) return;
  for (const schema of schemas) {
    const missing = schema.writeRights.find((right) => !caller.rights.includes(right));
    if (missing !== undefined) {
      const who = caller.login ? `operator '${caller.login}'` : 'this caller';
      throw new WriteError(
        ErrorCatalogue.ACCESS_DENIED,
        renderMessage(ErrorCatalogue.ACCESS_DENIED, { who, what: `write ${schema.id} (it needs the '${missing}' right)` }),
        { schema: schema.id },
      );
    }
  }
}
