import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Schema } from '@cap/campaign-schema';
import { planWrite, WriteError, type FieldValue } from '@cap/campaign-write';
import { element, parseXml, XmlParseError, type XmlElement } from '@cap/campaign-xml';
import { TOPICS, type SubscriptionChange } from '@cap/contracts';
import { appError, appErrorOf, ErrorCatalogue, errors } from '@cap/platform-errors';
import type { RpcHandler } from '@cap/platform-kafka';
import { withTransaction, type Pool } from '@cap/platform-postgres';
import { SUBSCRIPTION_REQUESTS } from '../staging/staging.sources';

const changeParams = z.object({
  action: z.enum(['subscribe', 'unsubscribe']),
  /** Comma-separated service internal names, as the caller gave them. */
  services: z.string().max(4_096),
  /** The recipient element (serialised XML): `_key` and the fields to update. */
  recipient: z
    .string()
    .min(1)
    .max(1024 * 1024),
  create: z.boolean(),
  operatorId: z.string().max(64).optional(),
});

const RECIPIENT_STG = 'nms:recipientStg';

/**
 * nms:subscription#Subscribe / Unsubscribe as staged writes. The recipient element is validated like an
 * IngestExt of nms:recipientStg (known attributes, typed values, a usable key: `_key`, else @email); the
 * services must exist. The request is stored with its outbox row in one transaction and applied in the cloud
 * DB by staging-sync: reconcile the recipient by its key, update the given fields (create it when `create`),
 * then add or remove the subscriptions — or, for Unsubscribe with no service, put the recipient on the
 * denylist. An unknown recipient on Unsubscribe is not an error (Campaign's rule).
 */
export function createSubscriptionRpcHandlers(deps: { pool: Pool; schemas: ReadonlyMap<string, Schema> }): Record<string, RpcHandler> {
  const stg = deps.schemas.get(RECIPIENT_STG);
  const serviceSchema = deps.schemas.get('nms:service');
  return {
    'subscription.change': async (params) => {
      const p = changeParams.safeParse(params);
      if (!p.success) throw errors.invalidRequest('subscription.change parameters', p.error.issues[0]?.message ?? 'rejected');
      if (!stg || !serviceSchema)
        throw appError(ErrorCatalogue.UNKNOWN_SCHEMA, {
          detail: 'This deployment has no nms:recipientStg / nms:service schema: subscriptions are not available',
        });
      const method = p.data.action === 'subscribe' ? 'Subscribe' : 'Unsubscribe';
      const services = [
        ...new Set(
          p.data.services
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        ),
      ];
      if (p.data.action === 'subscribe' && services.length === 0) {
        throw appError(ErrorCatalogue.NO_KEY, { detail: 'Subscribe needs at least one service internal name (serviceName is empty)' });
      }

      let doc: XmlElement;
      try {
        doc = parseXml(p.data.recipient);
      } catch (err) {
        throw appError(ErrorCatalogue.SOAP_MALFORMED, { what: 'recipient', why: err instanceof XmlParseError ? err.message : 'unreadable' });
      }
      const attrs: Record<string, string> = { ...doc.attrs, xtkschema: RECIPIENT_STG, _operation: 'insertOrUpdate' };
      if (attrs['_key'] === undefined && attrs['email'] !== undefined) attrs['_key'] = '@email';
      if (attrs['_key'] === undefined)
        throw appError(ErrorCatalogue.NO_KEY, { detail: `${method}: the recipient has no _key and no @email to find the profile with` });
      let key: FieldValue[];
      let values: FieldValue[];
      try {
        const [plan] = planWrite(element('recipientStg', attrs, doc.children), deps.schemas, {
          mode: 'ingestExt',
          now: new Date(),
          newId: randomUUID,
          ...(p.data.operatorId ? { operatorId: p.data.operatorId } : {}),
        });
        key = plan!.key;
        values = dedupe([...plan!.key, ...plan!.values, ...plan!.onWrite]);
        if (p.data.create) values = dedupe([...values, ...plan!.onInsert]);
      } catch (err) {
        if (err instanceof WriteError) throw appErrorOf(err, `${method}: ${err.message}`);
        throw err;
      }
      if (key.length === 0 || key.some((k) => k.value === null || (typeof k.value === 'string' && k.value.trim() === '')))
        throw appError(ErrorCatalogue.NO_KEY, { detail: `${method}: the recipient key ${key.map((k) => k.field.xpath).join(', ')} has no value` });

      return withTransaction(deps.pool, async (client) => {
        if (services.length > 0) {
          const found = await client.query<{ name: string }>(`SELECT name FROM "${serviceSchema.table}" WHERE name = ANY($1::text[])`, [services]);
          const known = new Set(found.rows.map((r) => r.name));
          const missing = services.filter((s) => !known.has(s));
          if (missing.length > 0)
            throw appError(ErrorCatalogue.LINK_NOT_FOUND, {
              detail: `${method}: unknown service${missing.length > 1 ? 's' : ''} ${missing.map((s) => `'${s}'`).join(', ')} (nms:service @name)`,
            });
        }
        const recipient = {
          keyColumns: key.map((k) => k.field.column),
          fields: values.map((v) => v.field.column),
          record: Object.fromEntries(values.map((v) => [v.field.column, v.value instanceof Date ? v.value.toISOString() : v.value])),
        };
        const row = await client.query<{ seq: string; staged_at: Date }>(
          `INSERT INTO ${SUBSCRIPTION_REQUESTS} (action, services, create_recipient, recipient) VALUES ($1, $2, $3, $4) RETURNING seq::text, staged_at`,
          [p.data.action, services, p.data.create, recipient],
        );
        const change: SubscriptionChange = {
          kind: 'subscription',
          schema: 'nms:subscription',
          source: SUBSCRIPTION_REQUESTS,
          seq: row.rows[0]!.seq,
          action: p.data.action,
          services,
          create: p.data.action === 'subscribe' && p.data.create,
          recipient,
          recordedAt: row.rows[0]!.staged_at.toISOString(),
        };
        // Never store what the relay could not publish: the change is checked with the topic's own payload
        // schema in the transaction that writes it (a change refused by the relay would hold every one behind it).
        const checked = TOPICS.stagingChanges.payload.safeParse(change);
        if (!checked.success)
          throw appError(ErrorCatalogue.NO_KEY, {
            detail: `${method}: the request cannot be staged (${checked.error.issues[0]?.path.join('.') ?? 'payload'}: ${checked.error.issues[0]?.message ?? 'invalid'})`,
          });
        // Keyed like the recipient's own staged rows, so both keep one order on one partition.
        const messageKey = `nms:recipient|${key.map((k) => `${k.field.column}=${String(k.value)}`).join(',')}`;
        await client.query(`INSERT INTO cap_outbox (topic, message_key, payload) VALUES ($1, $2, $3)`, [TOPICS.stagingChanges.name, messageKey, checked.data]);
        await client.query(`SELECT pg_notify('cap_outbox', '')`);
        return { seq: change.seq };
      });
    },
  };
}

function dedupe(values: FieldValue[]): FieldValue[] {
  const seen = new Set<string>();
  return values.filter((v) => (seen.has(v.field.column) ? false : (seen.add(v.field.column), true)));
}
