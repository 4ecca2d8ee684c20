import { z } from 'zod';
import type { Schema } from '@cap/campaign-schema';
import { appError, ErrorCatalogue, errors } from '@cap/platform-errors';
import type { RpcHandler } from '@cap/platform-kafka';
import type { Pool } from '@cap/platform-postgres';

/** The most ids one call reserves (xtk:session#GetNewIdsEx, the gateway checks it first). */
export const MAX_IDS_PER_CALL = 10_000;

/**
 * Campaign sequence names (compared without case) → the PostgreSQL sequence in the local database. Campaign keeps
 * NmsRecipientId, NmsBroadLogId and NmsTrackingLogId apart from XtkNewId; here they all draw from XtkNewId's
 * sequence (migrations/0005_xtk_new_id.sql). The keys of recipients and logs are text on this platform (cloud
 * tables): the ids it assigns itself are UUIDs, never all digits, so no reserved number can meet one; and with one
 * sequence behind every name, ids reserved under two names (sample 005 writes an XtkNewId id as a recipient's @id,
 * sample 004 reserves from NmsRecipientId) never meet either, the duplicate keys Campaign warns about with two.
 * DeliveryId is a counter, not an id sequence (nms:delivery's default internal name, DM<n>:
 * migrations/0008_delivery_id_counter.sql): the gateway does not let GetNewIdsEx name it; NewInstance and
 * Duplicate take it.
 */
const SEQUENCES: Readonly<Record<string, string>> = {
  xtknewid: 'xtknewid',
  nmsrecipientid: 'xtknewid',
  nmsbroadlogid: 'xtknewid',
  nmstrackinglogid: 'xtknewid',
  deliveryid: 'deliveryid',
};

const reserveParams = z
  .object({
    count: z.number().int().min(1).max(MAX_IDS_PER_CALL),
    /** A Campaign sequence name (`XtkNewId`)… */
    sequence: z.string().min(1).max(128).optional(),
    /** …or the schema whose own row ids to reserve (NewInstance). */
    schema: z.string().min(1).max(128).optional(),
  })
  .refine((p) => (p.sequence === undefined) !== (p.schema === undefined), 'give either sequence or schema');

/** The PostgreSQL sequence a Campaign sequence name stands for, or undefined when there is none by that name. */
export function sequenceFor(name: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(SEQUENCES, name.toLowerCase()) ? SEQUENCES[name.toLowerCase()] : undefined;
}

/**
 * `sequence.reserve`: `count` new ids, each taken once for good from a sequence of the local database: XtkNewId
 * (GetNewIds, GetNewIdsEx) or the identity sequence of a local table whose schema has a generated 64-bit key
 * (xtk:persist#NewInstance). Taken ids are never handed out again, whether or not a record is written with them.
 */
export function createSequenceRpcHandlers(deps: { pool: Pool; schemas: ReadonlyMap<string, Schema> }): Record<string, RpcHandler> {
  return {
    'sequence.reserve': async (params) => {
      const p = reserveParams.safeParse(params);
      if (!p.success) throw errors.invalidRequest('sequence.reserve parameters', p.error.issues[0]?.message ?? 'rejected');
      let sequenceSql: string;
      let args: unknown[];
      if (p.data.schema !== undefined) {
        const schema = deps.schemas.get(p.data.schema);
        const pk = schema?.primaryKey;
        if (!schema || !pk || pk.kind !== 'sequence' || !schema.databases.includes('local'))
          throw appError(ErrorCatalogue.UNKNOWN_SCHEMA, { detail: `No local table of schema '${p.data.schema}' numbers its rows from a sequence` });
        sequenceSql = 'pg_get_serial_sequence($1, $2)';
        args = [`"${schema.table}"`, pk.column];
      } else {
        const sequence = sequenceFor(p.data.sequence!);
        if (!sequence) throw errors.invalidRequest('sequence.reserve parameters', `unknown sequence '${p.data.sequence!.slice(0, 64)}'`);
        sequenceSql = `'${sequence}'`;
        args = [];
      }
      const { rows } = await deps.pool.query<{ id: string }>(`SELECT nextval(${sequenceSql})::text AS id FROM generate_series(1, $${args.length + 1}::int)`, [
        ...args,
        p.data.count,
      ]);
      return { ids: rows.map((r) => r.id) };
    },
  };
}
