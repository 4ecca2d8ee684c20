import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { errors } from '@cap/platform-errors';
import type { TopicDefinition } from './topic.definition';

/** What every message value is: a JSON envelope around the topic's typed payload. */
export interface Envelope<T> {
  schemaVersion: number;
  id: string;
  type: string;
  occurredAt: string;
  payload: T;
}

export const HEADER = {
  correlationId: 'x-correlation-id',
  schemaVersion: 'x-schema-version',
  contentType: 'content-type',
  dlqReason: 'x-dlq-reason',
  dlqOriginalTopic: 'x-dlq-original-topic',
  dlqOriginalPartition: 'x-dlq-original-partition',
  dlqOriginalOffset: 'x-dlq-original-offset',
  dlqErrorCode: 'x-dlq-error-code',
} as const;

const envelopeShape = z.object({
  schemaVersion: z.number().int().positive(),
  id: z.string().min(1),
  type: z.string().min(1),
  occurredAt: z.string().min(1),
  payload: z.unknown(),
});

/** `validated`: the caller has checked the payload against the topic's schema already (not parsed twice). */
export function encodeEnvelope<T>(topic: TopicDefinition<T>, payload: T, options: { validated?: boolean } = {}): Buffer {
  let data = payload;
  if (!options.validated) {
    const checked = topic.payload.safeParse(payload);
    if (!checked.success) {
      // A producer sending a payload its own topic rejects is a programmer error: fail loudly here.
      throw new Error(`Refusing to publish an invalid ${topic.name} payload: ${checked.error.message}`);
    }
    data = checked.data;
  }
  const envelope: Envelope<T> = {
    schemaVersion: topic.schemaVersion,
    id: randomUUID(),
    type: topic.name,
    occurredAt: new Date().toISOString(),
    payload: data,
  };
  return Buffer.from(JSON.stringify(envelope));
}

/** Decodes and validates a message value; throws a non-retriable AppError (INVALID_MESSAGE) saying why. */
export function decodeEnvelope<T>(topic: TopicDefinition<T>, value: Buffer | null): Envelope<T> {
  if (value === null || value.length === 0) throw errors.invalidMessage(topic.name, 'empty message value');
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch {
    throw errors.invalidMessage(topic.name, 'value is not JSON');
  }
  const envelope = envelopeShape.safeParse(json);
  if (!envelope.success) {
    throw errors.invalidMessage(topic.name, `not an envelope (${formatIssues(envelope.error)})`);
  }
  if (envelope.data.schemaVersion > topic.schemaVersion) {
    throw errors.invalidMessage(topic.name, `schemaVersion ${envelope.data.schemaVersion} is newer than the supported ${topic.schemaVersion}`);
  }
  const payload = topic.payload.safeParse(envelope.data.payload);
  if (!payload.success) {
    throw errors.invalidMessage(topic.name, `payload rejected (${formatIssues(payload.error)})`);
  }
  return { ...envelope.data, payload: payload.data };
}

function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}
