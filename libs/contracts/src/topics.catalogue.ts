import { z } from 'zod';
import { defineTopic, RPC_REPLY_TOPIC, rpcRequestTopic, type TopicDefinition } from '@cap/platform-kafka';

/**
 * Every Kafka topic of the platform, in one place: names, partition counts (the ceiling for how many
 * replicas of a consumer group can share the work), retention and payload schemas. `.dlq` twins are
 * created for topics with `deadLetter: true`. Per-instance RPC reply topics are created by each caller.
 */

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

const seqSchema = z.string().regex(/^\d+$/, 'expected a decimal sequence number');
const columnName = z.string().regex(/^[a-z_][a-z0-9_]*$/, 'expected a column name');

/**
 * A row change to apply to the cloud DB. `seq` orders changes per key (last writer wins): the staging
 * sequence (`cap_seq`) for staged rows, the outbox id for replicated rows.
 */
const recordChangeSchema = z.object({
  kind: z.literal('record'),
  /** The cloud schema written (nms:recipient for a row staged in nms:recipientStg). */
  schema: z.string().min(1),
  /** Where the change was recorded in the local DB (the staging schema, or the replicated schema itself). */
  source: z.string().min(1),
  seq: seqSchema,
  op: z.enum(['upsert', 'delete']),
  /** Columns that identify the record in the cloud table. */
  keyColumns: z.array(columnName).min(1),
  /** Columns to write (a staged partial update names only those the caller gave); absent: every column of `record`. */
  fields: z.array(columnName).optional(),
  /** Column values (JSON as PostgreSQL's to_jsonb renders them). */
  record: z.record(z.string(), z.unknown()),
  /** When the change was recorded locally (ISO 8601): the sync lag is measured from here. */
  recordedAt: z.string(),
});

/** nms:subscription#Subscribe / Unsubscribe, staged: applied in the cloud DB where the recipients are. */
const subscriptionChangeSchema = z.object({
  kind: z.literal('subscription'),
  schema: z.literal('nms:subscription'),
  source: z.string().min(1),
  seq: seqSchema,
  action: z.enum(['subscribe', 'unsubscribe']),
  /** Service internal names; empty on Unsubscribe means "put the recipient on the denylist". */
  services: z.array(z.string().min(1)),
  /** Create the recipient when no profile matches (Subscribe's `create`). */
  create: z.boolean(),
  recipient: z.object({ keyColumns: z.array(columnName).min(1), fields: z.array(columnName), record: z.record(z.string(), z.unknown()) }),
  recordedAt: z.string(),
});

export const stagedChangeSchema = z.discriminatedUnion('kind', [recordChangeSchema, subscriptionChangeSchema]);
export type StagedChange = z.infer<typeof stagedChangeSchema>;
export type RecordChange = z.infer<typeof recordChangeSchema>;
export type SubscriptionChange = z.infer<typeof subscriptionChangeSchema>;

/** staging-sync → local-store, after the cloud commit: which staged rows are done (applied or dead-lettered). */
const stagingSyncedSchema = z.object({
  source: z.string().min(1),
  synced: z.array(seqSchema),
  deadLettered: z.array(seqSchema),
});
export type StagingSynced = z.infer<typeof stagingSyncedSchema>;

/** Transactional events stored by local-store (PushEvent/PushEvents), relayed from its outbox to the message center. */
const messageCenterEventSchema = z.object({
  queue: z.enum(['rtEvent', 'batchEvent']),
  /** The event's @id in the local DB (64-bit, decimal). */
  eventId: z.string().regex(/^\d+$/, 'expected a decimal event id'),
  type: z.string().min(1).max(64),
  email: z.string().max(128).nullish(),
  mobilePhone: z.string().max(32).nullish(),
  externalId: z.string().max(64).nullish(),
  language: z.string().max(8).nullish(),
  country: z.string().max(2).nullish(),
  wishedChannel: z.number().int().nullish(),
  emailFormat: z.number().int().nullish(),
  /** Deferred sending date (ISO 8601), if the caller gave one. */
  scheduled: z.string().nullish(),
  /** Past this date (ISO 8601) the event is not sent any more. */
  expiration: z.string().nullish(),
  /** The event's <ctx> as XML text. */
  ctx: z.string().nullish(),
  created: z.string(),
});
export type MessageCenterEvent = z.infer<typeof messageCenterEventSchema>;

/** The message center's verdict on one event; local-store applies it to nms:rtEvent / nms:batchEvent. */
const messageCenterStatusSchema = z.object({
  queue: z.enum(['rtEvent', 'batchEvent']),
  eventId: z.string().regex(/^\d+$/, 'expected a decimal event id'),
  status: z.enum(['sent', 'failed', 'ignored', 'expired']),
  failureReason: z.string().max(255).optional(),
  /** The nms:delivery template used (decimal id), when one covered the event. */
  deliveryId: z.string().regex(/^\d+$/).optional(),
  attempts: z.number().int().min(0),
  processingAt: z.string(),
  processedAt: z.string(),
});
export type MessageCenterStatus = z.infer<typeof messageCenterStatusSchema>;

/** A delivery action's definition, state and indicators, from cloud-executor to local-store (nms:delivery). */
const deliveryStateSchema = z.object({
  deliveryId: z.string().regex(/^\d+$/, 'expected a decimal delivery id'),
  internalName: z.string().min(1).max(64),
  label: z.string().max(128),
  /** Internal name of the template it was created from. */
  templateName: z.string().max(64),
  messageType: z.number().int(),
  routing: z.string().max(64),
  subject: z.string().max(255),
  senderAddress: z.string().max(128),
  content: z.string(),
  targets: z.string(),
  /** nms:delivery:state: 11 targeting (Prepare), 25 analysis completed (prepared, waiting for Start), 45 start requested, 55 in progress, 72 paused, 85 stopped, 95 finished, 99 failed. */
  state: z.number().int(),
  failureText: z.string().max(512).optional(),
  targeted: z.number().int().min(0),
  excluded: z.number().int().min(0),
  toDeliver: z.number().int().min(0),
  processed: z.number().int().min(0),
  success: z.number().int().min(0),
  error: z.number().int().min(0),
  errorRendering: z.number().int().min(0),
  errorRefused: z.number().int().min(0),
  errorUnreachable: z.number().int().min(0),
  /** Increases with every change of this delivery (the topic carries them in order). */
  version: z.string().regex(/^\d+$/),
  created: z.string(),
  changedAt: z.string(),
});
export type DeliveryStateChange = z.infer<typeof deliveryStateSchema>;

export const SERVICES = {
  localStore: 'local-store',
  cloudExecutor: 'cloud-executor',
} as const;

export const TOPICS = {
  localStoreRequests: rpcRequestTopic(SERVICES.localStore, 6),
  cloudExecutorRequests: rpcRequestTopic(SERVICES.cloudExecutor, 6),
  /** Replies to every RPC caller (each instance reads one partition); never deleted. */
  rpcReplies: RPC_REPLY_TOPIC,
  /** Staged writes (Ingest, IngestExt, Subscribe…) relayed from local-store's outbox; key = `schema|key`. */
  stagingChanges: defineTopic({
    name: 'staging.record.changed.v1',
    partitions: 12,
    retentionMs: 7 * DAY,
    schemaVersion: 1,
    deadLetter: true,
    description: 'Staged rows to move from the local DB to the cloud DB, in per-key order.',
    payload: stagedChangeSchema,
  }),
  /** Writes to replicated (reference) schemas, one-way local → cloud; key = `schema|key`. */
  replicationChanges: defineTopic({
    name: 'replication.record.changed.v1',
    partitions: 12,
    retentionMs: 7 * DAY,
    schemaVersion: 1,
    deadLetter: true,
    description: 'Reference rows replicated from the local DB to the cloud DB.',
    payload: stagedChangeSchema,
  }),
  /** Acknowledgements from staging-sync after each cloud commit: local-store marks the staging rows synced. */
  stagingSynced: defineTopic({
    name: 'staging.record.synced.v1',
    partitions: 3,
    retentionMs: 1 * DAY,
    schemaVersion: 1,
    deadLetter: true,
    description: 'Staged rows applied to (or dead-lettered on their way to) the cloud DB.',
    payload: stagingSyncedSchema,
  }),
  /** Workflow state changes from cloud-executor's engine; local-store applies them to xtk:workflow. Key = workflow id. */
  workflowStateChanged: defineTopic({
    name: 'workflow.state.changed.v1',
    partitions: 6,
    retentionMs: 7 * DAY,
    schemaVersion: 1,
    deadLetter: true,
    description: 'xtk:workflow @state/@failed/@status after each change made by the workflow engine, in per-workflow order.',
    payload: z.object({
      /** The xtk:workflow @id (64-bit, decimal) in the local DB. */
      workflowId: z.string().regex(/^\d+$/, 'expected a decimal workflow id'),
      internalName: z.string().min(1),
      /** xtk:workflow:state: 0 being edited, 11 started, 13 paused, 15 stop requested, 20 finished. */
      state: z.union([z.literal(0), z.literal(11), z.literal(13), z.literal(15), z.literal(20)]),
      failed: z.boolean(),
      status: z.string().max(255).optional(),
      /** Increases with every change of this workflow's state (per workflow, never reused). */
      version: z.string().regex(/^\d+$/, 'expected a decimal version'),
      changedAt: z.string(),
    }),
  }),
  /** Events stored by local-store, relayed from its outbox (key = event id); cloud-executor's message center consumes them. */
  messageCenterEvents: defineTopic({
    name: 'messagecenter.event.created.v1',
    partitions: 6,
    retentionMs: 7 * DAY,
    schemaVersion: 1,
    deadLetter: true,
    description: 'Transactional events (nms:rtEvent, nms:batchEvent) to render and send.',
    payload: messageCenterEventSchema,
  }),
  /** The message center's final status per event (key = event id); local-store applies it to the event. */
  messageCenterStatus: defineTopic({
    name: 'messagecenter.event.status.v1',
    partitions: 6,
    retentionMs: 7 * DAY,
    schemaVersion: 1,
    deadLetter: true,
    description: 'Sent, failed, ignored or expired: the outcome of each transactional event.',
    payload: messageCenterStatusSchema,
  }),
  /** Delivery actions created by SubmitDelivery and their indicators (key = delivery id); local-store applies them to nms:delivery. */
  deliveryStateChanged: defineTopic({
    name: 'delivery.state.changed.v1',
    partitions: 6,
    retentionMs: 7 * DAY,
    schemaVersion: 1,
    deadLetter: true,
    maxMessageBytes: 8 * 1024 * 1024,
    description: 'nms:delivery definition, @state and indicators of each delivery action, in per-delivery order.',
    payload: deliveryStateSchema,
  }),
  /**
   * A source schema authored at run time, after local-store committed it (key = srcSchema id): every replica of every
   * service recompiles its data model with it (docs/schema-authoring.md). Read by per-instance groups from when they
   * are ready; a service that starts reads the stored sources instead.
   */
  schemaSourceInstalled: defineTopic({
    name: 'schema.source.installed.v1',
    partitions: 1,
    retentionMs: 1 * DAY,
    schemaVersion: 1,
    deadLetter: false,
    maxMessageBytes: 2 * 1024 * 1024,
    description: 'srcSchema XML authored through xtk:session#Write, to compile into every running service.',
    payload: z.object({
      id: z.string().regex(/^[a-z][a-zA-Z0-9]*:[A-Za-z_][A-Za-z0-9_]*$/, 'expected a schema id'),
      source: z.string().min(1),
      md5: z.string().regex(/^[0-9A-F]{32}$/, 'expected an upper-case MD5'),
    }),
  }),
} as const;

export const ALL_TOPICS: TopicDefinition<unknown>[] = Object.values(TOPICS) as TopicDefinition<unknown>[];
