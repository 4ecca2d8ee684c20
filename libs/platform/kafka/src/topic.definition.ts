import type { z } from 'zod';

/**
 * A typed topic: its logical name (`<domain>.<entity>.<event>.v<N>`), how it is created, and the schema of
 * the payload carried in its envelopes. Physical names add the deployment's prefix (see Messaging.topicName).
 */
export interface TopicDefinition<T = unknown> {
  readonly name: string;
  readonly partitions: number;
  readonly retentionMs: number;
  readonly schemaVersion: number;
  readonly payload: z.ZodType<T>;
  /** Largest message the topic accepts (Kafka's max.message.bytes); the broker default (~1 MiB) when absent. */
  readonly maxMessageBytes?: number;
  /** Whether a `<name>.dlq` twin exists for messages that cannot be processed. */
  readonly deadLetter: boolean;
  readonly description: string;
}

/** The payload type a topic carries (`TopicPayload<typeof TOPICS.workflowStateChanged>`). */
export type TopicPayload<D> = D extends TopicDefinition<infer T> ? T : never;

const TOPIC_NAME = /^[a-z0-9-]+(\.[a-z0-9-]+)*\.v[0-9]+$/;

export function defineTopic<T>(def: TopicDefinition<T>): TopicDefinition<T> {
  if (!TOPIC_NAME.test(def.name)) {
    throw new Error(`Topic name '${def.name}' does not follow <domain>.<entity>.<event>.v<N>`);
  }
  if (!Number.isInteger(def.partitions) || def.partitions < 1) {
    throw new Error(`Topic '${def.name}' needs a positive partition count`);
  }
  return Object.freeze({ ...def });
}

export function deadLetterName(topicName: string): string {
  return `${topicName}.dlq`;
}
