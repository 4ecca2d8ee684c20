import { z } from 'zod';
import { defineTopic, rpcRequestTopic, type TopicDefinition } from '@cap/platform-kafka';

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

export const SERVICES = {
  localStore: 'local-store',
  cloudExecutor: 'cloud-executor',
} as const;

export const TOPICS = {
  localStoreRequests: rpcRequestTopic(SERVICES.localStore, 6),
  cloudExecutorRequests: rpcRequestTopic(SERVICES.cloudExecutor, 6),
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
} as const;

export const ALL_TOPICS: TopicDefinition<unknown>[] = Object.values(TOPICS) as TopicDefinition<unknown>[];
