import { z } from 'zod';
import { defineTopic, type TopicDefinition } from './topic.definition';

/** Payload of a request on `rpc.<service>.request.v1`. */
export const rpcRequestSchema = z.object({
  method: z.string().min(1).max(200),
  params: z.unknown(),
  /** Physical topic the reply goes to (the shared reply topic): a legal Kafka topic name. */
  replyTo: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'replyTo must be a Kafka topic name'),
  /** The partition of `replyTo` the caller reads (absent: callers of an earlier version, each with a topic of its own). */
  replyPartition: z.number().int().min(0).max(10_000).optional(),
  /** Epoch milliseconds after which the caller no longer waits: the server drops the request. */
  deadline: z.number().int().positive(),
});
export type RpcRequest = z.infer<typeof rpcRequestSchema>;

const errorShape = z.object({
  code: z.string(),
  message: z.string(),
  retriable: z.boolean(),
  httpStatus: z.number().int(),
  soapFaultCode: z.enum(['SOAP-ENV:Client', 'SOAP-ENV:Server']),
  details: z.record(z.string(), z.unknown()).optional(),
});

export const rpcReplySchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: errorShape }),
]);
export type RpcReply = z.infer<typeof rpcReplySchema>;

/**
 * RPC messages carry whole SOAP documents one way and query results the other: both topics accept messages
 * up to 32 MiB (the gateway's body limit, 8 MiB by default, plus JSON escaping).
 */
export const RPC_MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

export function rpcRequestTopic(service: string, partitions: number): TopicDefinition<RpcRequest> {
  return defineTopic({
    name: `rpc.${service}.request.v1`,
    partitions,
    maxMessageBytes: RPC_MAX_MESSAGE_BYTES,
    retentionMs: 60 * 60 * 1000,
    schemaVersion: 1,
    payload: rpcRequestSchema,
    deadLetter: true,
    description: `Requests to ${service} (request/reply over Kafka; replies go to the caller's reply topic).`,
  });
}

/**
 * Replies to every caller, on one topic that is created once and never deleted (a caller that stops deletes
 * nothing, so no server's producer is ever left asking for a topic that is gone). Each caller instance reads one
 * partition, chosen from its instance id (`replyPartitionOf`); two instances that share a partition each skip the
 * other's replies (unknown correlation ids). 32 partitions keep sharing rare for tens of callers.
 */
export const RPC_REPLY_TOPIC: TopicDefinition<RpcReply> = defineTopic({
  name: 'rpc.caller.reply.v1',
  partitions: 32,
  maxMessageBytes: RPC_MAX_MESSAGE_BYTES,
  retentionMs: 10 * 60 * 1000,
  schemaVersion: 1,
  payload: rpcReplySchema,
  deadLetter: false,
  description: 'Replies of request/reply calls; each caller instance reads the partition its instance id hashes to.',
});

/** The reply partition of a caller instance: FNV-1a of its id, modulo the reply topic's partitions. */
export function replyPartitionOf(instanceId: string, partitions = RPC_REPLY_TOPIC.partitions): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < instanceId.length; i++) {
    hash ^= instanceId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}
