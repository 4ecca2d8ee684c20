import { Counter, type Registry } from 'prom-client';
import { TOPICS, type MessageCenterEvent, type MessageCenterStatus } from '@cap/contracts';
import { runBatchConsumer, type ConsumerRunner, type IncomingMessage, type Messaging, type QuarantineOptions } from '@cap/platform-kafka';
import type { Logger } from '@cap/platform-logger';
import { withTransaction, type Pool } from '@cap/platform-postgres';
import { scheduleRetries, writeEventLogs } from './event-log.store';
import { statusMessage, type EventProcessor, type EventRetry } from './event.processor';

const STATUS_NAME: Record<number, MessageCenterStatus['status']> = { 1: 'sent', 2: 'failed', 3: 'ignored', 4: 'expired' };

export interface EventConsumerOptions {
  pool: Pool;
  messaging: Messaging;
  logger: Logger;
  registry: Registry;
  processEvents: EventProcessor;
  maxBatchSize: number;
  /** When a temporarily failed event is tried again: retryDelayMs × 2^(attempts−1), at most maxRetryDelayMs. */
  retryDelay(attempts: number): number;
  /** Where an event that cannot be processed is set aside (`npm run quarantine`). */
  quarantine?: QuarantineOptions;
  /** Called after events were put in the retry table (scheduled for later, or failed for now): wakes the retry loop. */
  onRetriesScheduled?(): void;
}

/** The message center's consumer group, and its name in the quarantine. */
export const MESSAGE_CENTER_CONSUMER = 'cloud-executor-message-center';

/** Counters shared by the consumer and the retry loop. */
export function createMessageCenterMetrics(registry: Registry) {
  return new Counter({ name: 'cap_message_center_events_total', help: 'Transactional events by outcome', labelNames: ['outcome'], registers: [registry] });
}

/**
 * The message center's intake: consumes messagecenter.event.created.v1 in batches (consumer group
 * cloud-executor-message-center, one partition's messages in order), processes the new events, writes their
 * logs, statistics and retries in ONE cloud transaction, publishes their statuses, and only then lets the
 * offsets be committed. A redelivered event that already has a log is not sent again: its status is
 * published again from the log. Events scheduled for later, and temporary failures, go to the retry table.
 */
export async function startEventConsumer(options: EventConsumerOptions, metrics: ReturnType<typeof createMessageCenterMetrics>): Promise<ConsumerRunner> {
  const { pool, messaging } = options;
  const log = options.logger.child({ module: 'message-center' });
  return runBatchConsumer(messaging, {
    groupId: MESSAGE_CENTER_CONSUMER,
    ...(options.quarantine ? { quarantine: options.quarantine } : {}),
    topics: [TOPICS.messageCenterEvents],
    maxBatchSize: options.maxBatchSize,
    maxWaitMs: 50,
    concurrency: TOPICS.messageCenterEvents.partitions,
    fromBeginning: true,
    async handleBatch(messages: IncomingMessage<MessageCenterEvent>[]) {
      const byKey = new Map<string, MessageCenterEvent>();
      for (const m of messages) byKey.set(`${m.envelope.payload.queue}:${m.envelope.payload.eventId}`, m.envelope.payload);
      const events = [...byKey.values()];
      const keys = [events.map((e) => e.queue), events.map((e) => e.eventId)];
      const logged = await pool.query<{
        queue: 'rtEvent' | 'batchEvent';
        event_id: string;
        status: number;
        failure_text: string | null;
        delivery_id: string | null;
        attempts: number;
        event_date: Date;
      }>(
        `SELECT l.queue, l.event_id::text, l.status, l.failure_text, l.delivery_id::text, l.attempts, l.event_date
           FROM nms_broad_log_event l JOIN unnest($1::text[], $2::bigint[]) AS k(queue, event_id) ON l.queue = k.queue AND l.event_id = k.event_id`,
        keys,
      );
      const waiting = await pool.query<{ queue: string; event_id: string }>(
        'SELECT r.queue, r.event_id::text FROM cap_mc_retry r JOIN unnest($1::text[], $2::bigint[]) AS k(queue, event_id) ON r.queue = k.queue AND r.event_id = k.event_id',
        keys,
      );
      const known = new Set([...logged.rows, ...waiting.rows].map((r) => `${r.queue}:${r.event_id}`));
      const now = new Date();
      const fresh = events.filter((e) => !known.has(`${e.queue}:${e.eventId}`));
      const later = fresh.filter((e) => e.scheduled && Date.parse(e.scheduled) > now.getTime());
      const due = fresh.filter((e) => !later.includes(e));

      const { verdicts, retries } = await options.processEvents(due.map((event) => ({ event, attempts: 0, firstSeenAt: now })));
      await withTransaction(pool, async (client) => {
        await writeEventLogs(client, verdicts, retries);
        await scheduleRetries(client, [
          ...later.map((event) => ({ event, attempts: 0, error: null, dueAt: new Date(event.scheduled!), firstSeenAt: now })),
          ...retries.map((r: EventRetry) => ({
            event: r.pending.event,
            attempts: r.attempts,
            error: r.error,
            dueAt: new Date(Date.now() + options.retryDelay(r.attempts)),
            firstSeenAt: now,
          })),
        ]);
      });
      if (later.length > 0 || retries.length > 0) options.onRetriesScheduled?.();
      const statuses: MessageCenterStatus[] = [
        ...verdicts.map(statusMessage),
        ...logged.rows.map((r) => ({
          queue: r.queue,
          eventId: r.event_id,
          status: STATUS_NAME[r.status] ?? 'failed',
          ...(r.failure_text ? { failureReason: r.failure_text.slice(0, 255) } : {}),
          ...(r.delivery_id ? { deliveryId: r.delivery_id } : {}),
          attempts: r.attempts,
          processingAt: r.event_date.toISOString(),
          processedAt: r.event_date.toISOString(),
        })),
      ];
      if (statuses.length > 0)
        await messaging.publish(
          TOPICS.messageCenterStatus,
          statuses.map((payload) => ({ key: payload.eventId, payload })),
        );
      for (const v of verdicts) metrics.inc({ outcome: v.status });
      metrics.inc({ outcome: 'retry' }, retries.length);
      log.debug(
        {
          event: 'message_center.batch',
          events: events.length,
          verdicts: verdicts.length,
          retries: retries.length,
          scheduled: later.length,
          replayed: logged.rows.length,
        },
        'events processed',
      );
    },
  });
}
