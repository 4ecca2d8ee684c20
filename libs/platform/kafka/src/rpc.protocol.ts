import { z } from 'zod';
import { defineTopic, type TopicDefinition } from './topic.definition';

/** Payload of a request on `rpc.<service>.request.v1`. */
export const rpcRequestSchema = z.object({
  method: z.string().min(1).max(200),
  params: z.unknown(),
  /** Physical topic the reply goes to (the caller instance's reply topic): a legal Kafka topic name. */
  replyTo: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'replyTo must be a Kafka topic name'),
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

/** Each caller instance owns one reply topic, created at start and deleted at shutdown. */
export function rpcReplyTopic(instanceId: string): TopicDefinition<RpcReply> {
  return defineTopic({
    name: `rpc.${instanceId.toLowerCase().replace(/[^a-z0-9-]/g, '-')}.reply.v1`,
    partitions: 1,
    maxMessageBytes: RPC_MAX_MESSAGE_BYTES,
    retentionMs: 10 * 60 * 1000,
    schemaVersion: 1,
    payload: rpcReplySchema,
    deadLetter: false,
    description: 'Replies to one caller instance.',
  });
}
