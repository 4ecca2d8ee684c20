import { z } from 'zod';
import { defineTopic, rpcRequestTopic, type TopicDefinition } from '@cap/platform-kafka';

/**
 * Every Kafka topic of the platform, in one place: names, partition counts (the ceiling for how many
 * replicas of a consumer group can share the work), retention and payload schemas. `.dlq` twins are
 * created for topics with `deadLetter: true`. Per-instance RPC reply topics are created by each caller.
 */

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

/** A row change to apply to the cloud DB: `seq` orders changes per key (last writer wins). */
const recordChangeSchema = z.object({
  schema: z.string().min(1),
  key: z.string().min(1),
  seq: z.string().regex(/^\d+$/),
  op: z.enum(['upsert', 'delete']),
  record: z.record(z.string(), z.unknown()),
});

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
    payload: recordChangeSchema,
  }),
  /** Writes to replicated (reference) schemas, one-way local → cloud; key = `schema|key`. */
  replicationChanges: defineTopic({
    name: 'replication.record.changed.v1',
    partitions: 12,
    retentionMs: 7 * DAY,
    schemaVersion: 1,
    deadLetter: true,
    description: 'Reference rows replicated from the local DB to the cloud DB.',
    payload: recordChangeSchema,
  }),
} as const;

export const ALL_TOPICS: TopicDefinition<unknown>[] = Object.values(TOPICS) as TopicDefinition<unknown>[];
