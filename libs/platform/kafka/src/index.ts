export { defineTopic, deadLetterName, type TopicDefinition, type TopicPayload } from './topic.definition';
export { decodeEnvelope, encodeEnvelope, HEADER, type Envelope } from './envelope.codec';
export { createMessaging, headerValue, Messaging, type MessagingOptions, type OutgoingMessage } from './messaging';
export {
  runBatchConsumer,
  runConsumer,
  type BatchConsumerOptions,
  type ConsumerRunner,
  type ConsumerRunnerOptions,
  type IncomingMessage,
  type QuarantineOptions,
} from './consumer.runner';
export { RETRY_PROFILES, type RetryProfile } from './retry.profile';
export { replyPartitionOf, RPC_REPLY_TOPIC, rpcRequestTopic, type RpcReply, type RpcRequest } from './rpc.protocol';
export { startRpcServer, type RpcContext, type RpcHandler, type RpcServer, type RpcServerOptions } from './rpc.server';
export { RPC_SECONDS_BUCKETS, startRpcClient, type RpcCallOptions, type RpcClient, type RpcClientOptions } from './rpc.client';
export { type MessageQuarantine, type QuarantineEntry, type QuarantineReplay } from './message.quarantine';
