import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { applyGroup, writeRolledBack, type GroupCommitOptions } from '@cap/campaign-postgres';
import { TOPICS } from '@cap/contracts';
import type { Schema } from '@cap/campaign-schema';
import { compileWritePlan, planWrite, WriteError, type RecordPlan } from '@cap/campaign-write';
import { element, parseXml, serializeXml, XmlParseError, type XmlElement } from '@cap/campaign-xml';
import { appError, appErrorOf, ErrorCatalogue, errors, isAppError } from '@cap/platform-errors';
import type { RpcHandler } from '@cap/platform-kafka';
import { createGroupCommitQueue, withTransaction, type Pool, type PoolClient } from '@cap/platform-postgres';

const pushParams = z.object({
  queue: z.enum(['rtEvent', 'batchEvent']),
  /** The events as sent (serialised XML), one per element. */
  events: z
    .array(
      z
        .string()
        .min(1)
        .max(1024 * 1024),
    )
    .min(1)
    .max(10_000),
});

const CELL_BITS = 56n;
/** Pushes of more events than this are stored in a transaction of their own, never grouped. */
const GROUPED_EVENTS_MAX = 50;
const SERVER_FIELDS = new Set(['@id', '@status', '@processing', '@processed', '@failureReason']);

/**
 * Transactional events (nms:rtEvent / nms:batchEvent #PushEvent, #PushEvents): each event is validated
 * against its schema (a type, and an address to send to) and stored as pending under its primary key @id (the
 * table's sequence); the id returned carries the execution cell in its high byte, as Campaign's does, so
 * `returned & 0xFFFFFFFFFFFFFF` is the @id a queryDef finds (the decoding Adobe's SDK documents in
 * docs/messageCenter.html of @adobe/acc-js-sdk). A bad event anywhere in a PushEvents
 * call stores none of them. Each stored event also gets an outbox row (same transaction), which the relay
 * publishes on messagecenter.event.created.v1 for cloud-executor's message center.
 */
export function createEventRpcHandlers(deps: {
  pool: Pool;
  schemas: ReadonlyMap<string, Schema>;
  cell: number;
  /** Group commit of unitary pushes (as for writes): pushes arriving while a transaction runs share the next. */
  groupCommit?: GroupCommitOptions;
}): Record<string, RpcHandler> {
  const store = (pushes: EventPush[]) => withTransaction(deps.pool, (client) => storeEvents(client, deps.schemas, pushes));
  // A unitary PushEvent is a unitary write: alone, each paid a whole transaction (five round trips and a WAL
  // flush), which held unitary intake at about half of unitary Ingest's (docs/benchmarks.md, P7).
  const intake = createGroupCommitQueue<EventPush, { ids: string[] }>({
    maxBatch: deps.groupCommit?.maxBatch ?? 1,
    maxConcurrent: deps.groupCommit?.maxConcurrent ?? 1,
    alone: async (push) => (await store([push]))[0]!,
    together: store,
    // Everything this transaction can refuse is raised before its COMMIT: the group committed nothing.
    rolledBack: (err) => isAppError(err) || writeRolledBack(err),
    expired: () => appError(ErrorCatalogue.RPC_TIMEOUT, { detail: 'The events were not stored: their caller stopped waiting before their turn came' }),
  });
  return {
    'event.push': async (params, ctx) => {
      const p = pushParams.safeParse(params);
      if (!p.success) throw errors.invalidRequest('event.push parameters', p.error.issues[0]?.message ?? 'rejected');
      const schemaId = `nms:${p.data.queue}`;
      const plans: RecordPlan[] = p.data.events.map((text, index) => {
        let event: XmlElement;
        try {
          event = parseXml(text);
        } catch (err) {
          throw appError(ErrorCatalogue.SOAP_MALFORMED, { what: `event ${index + 1}`, why: err instanceof XmlParseError ? err.message : 'unreadable' });
        }
        if (event.local !== p.data.queue)
          throw appError(ErrorCatalogue.UNKNOWN_SCHEMA, { detail: `Event ${index + 1} is <${event.local}>; this queue takes <${p.data.queue}> elements` });
        if (!event.attrs['type'])
          throw appError(ErrorCatalogue.NO_KEY, { detail: `Event ${index + 1} has no @type (the event type selects the message template)` });
        if (!event.attrs['email'] && !event.attrs['mobilePhone'])
          throw appError(ErrorCatalogue.NO_KEY, { detail: `Event ${index + 1} has no address: give @email or @mobilePhone` });
        // ctx carries free-form event data: stored whole, as XML text.
        const ctx = event.children.find((c) => c.local === 'ctx');
        const record = element(
          p.data.queue,
          { ...event.attrs, xtkschema: schemaId, _operation: 'insert' },
          ctx ? [element('ctx', {}, [], serializeXml(ctx, { plain: true }))] : [],
        );
        try {
          const [plan] = planWrite(record, deps.schemas, { mode: 'write', now: new Date(), newId: randomUUID });
          return plan!;
        } catch (err) {
          if (err instanceof WriteError) throw appErrorOf(err, `Event ${index + 1}: ${err.message.replace(/^\S+ /, '')}`);
          throw err;
        }
      });
      const push = { queue: p.data.queue, plans };
      // A big collection (PushEvents of many events) is a transaction's worth by itself: it runs alone, so that a
      // group never grows past WRITE_GROUP_MAX × GROUPED_EVENTS_MAX events.
      const { ids } = plans.length > GROUPED_EVENTS_MAX ? (await store([push]))[0]! : await intake.run(push, ctx?.deadline);
      return { ids: ids.map((id) => ((BigInt(deps.cell) << CELL_BITS) | BigInt(id)).toString()) };
    },
    'event.queueDepth': async () => {
      const { rows } = await deps.pool.query<{ pending: string }>(
        'SELECT (SELECT count(*) FROM nms_rt_event WHERE status = 0) + (SELECT count(*) FROM nms_batch_event WHERE status = 0) AS pending',
      );
      return { pending: Number(rows[0]!.pending) };
    },
  };
}

interface EventPush {
  queue: 'rtEvent' | 'batchEvent';
  /** The events' write plans, validated. */
  plans: RecordPlan[];
}

/**
 * Stores the events of one or more pushes in the caller's transaction and returns each push's ids. Per queue:
 * the ids from the table's own sequence (the primary key), the rows (one-row INSERTs merged into multi-row
 * ones), their outbox rows — each change checked with the topic's own payload schema before the commit, so
 * nothing is stored that the relay could not publish — and one notification to the relay for the lot.
 */
async function storeEvents(client: PoolClient, schemas: ReadonlyMap<string, Schema>, pushes: EventPush[]): Promise<{ ids: string[] }[]> {
  const results = pushes.map(() => ({ ids: [] as string[] }));
  for (const queue of new Set(pushes.map((push) => push.queue))) {
    const schemaId = `nms:${queue}`;
    const schema = schemas.get(schemaId)!;
    const idField = schema.fields.find((f) => f.xpath === '@id')!;
    const statusField = schema.fields.find((f) => f.xpath === '@status')!;
    const members = pushes.map((push, index) => ({ push, index })).filter((m) => m.push.queue === queue);
    const plans = members.flatMap((m) => m.push.plans);
    const seq = await client.query<{ id: string }>(`SELECT nextval(pg_get_serial_sequence($1, 'id'))::text AS id FROM generate_series(1, $2)`, [
      schema.table,
      plans.length,
    ]);
    const ids = seq.rows.map((r) => r.id);
    // The platform owns these: a caller's id or status is not taken.
    const placed = plans.map((plan, i) => ({
      ...plan,
      values: [...plan.values.filter((v) => !SERVER_FIELDS.has(v.field.xpath)), { field: idField, value: ids[i]! }, { field: statusField, value: 0 }],
    }));
    await applyGroup(
      client,
      placed.map((plan) => compileWritePlan([plan])),
    );
    const outbox = await client.query<{ payload: unknown }>(
      `INSERT INTO cap_outbox (topic, message_key, payload)
       SELECT $1, e.id::text, jsonb_strip_nulls(jsonb_build_object(
                'queue', $3::text, 'eventId', e.id::text, 'type', e.type, 'email', e.email, 'mobilePhone', e.mobile_phone,
                'externalId', e.external_id, 'language', e.language, 'country', e.country, 'wishedChannel', e.wished_channel,
                'emailFormat', e.email_format, 'scheduled', to_jsonb(e.scheduled), 'expiration', to_jsonb(e.expiration),
                'ctx', e.ctx, 'created', to_jsonb(coalesce(e.created, now()))))
         FROM ${schema.table} e WHERE e.id = ANY($2::bigint[]) ORDER BY e.id
       RETURNING payload`,
      [TOPICS.messageCenterEvents.name, ids, queue],
    );
    outbox.rows.forEach((row, index) => {
      const checked = TOPICS.messageCenterEvents.payload.safeParse(row.payload);
      if (!checked.success) {
        const issue = checked.error.issues[0];
        throw appError(ErrorCatalogue.BAD_VALUE, {
          detail: `Event ${index + 1} cannot be sent to the message center (${issue?.path.join('.') ?? 'payload'}: ${issue?.message ?? 'invalid'})`,
        });
      }
    });
    let from = 0;
    for (const m of members) {
      results[m.index] = { ids: ids.slice(from, from + m.push.plans.length) };
      from += m.push.plans.length;
    }
  }
  await client.query("SELECT pg_notify('cap_outbox', '')");
  return results;
}
