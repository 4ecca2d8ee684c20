import { TOPICS, type MessageCenterStatus } from '@cap/contracts';
import { errors } from '@cap/platform-errors';
import { runBatchConsumer, type ConsumerRunner, type IncomingMessage, type Messaging, type QuarantineOptions } from '@cap/platform-kafka';
import type { Logger } from '@cap/platform-logger';
import type { Pool } from '@cap/platform-postgres';

/** nms:rtEvent:status values for the message center's verdicts. */
const STATUS_VALUE: Record<MessageCenterStatus['status'], number> = { sent: 2, failed: 3, ignored: 4, expired: 5 };
const TABLE: Record<MessageCenterStatus['queue'], string> = { rtEvent: 'nms_rt_event', batchEvent: 'nms_batch_event' };

/** Its consumer group, and its name in the quarantine. */
export const EVENT_STATUS_CONSUMER = 'local-store-message-center-status';

/**
 * Applies the message center's verdicts (cloud-executor → messagecenter.event.status.v1) to the stored events:
 * @status, @failureReason, @processing, @processed. One UPDATE per queue per batch; only a pending (or
 * processing) event changes, so a redelivered verdict is harmless and a final status is never overwritten.
 * The pending queue depth that mcPing.jsp reports falls as verdicts arrive.
 */
export async function startEventStatusConsumer(deps: { pool: Pool; messaging: Messaging; logger: Logger; quarantine?: QuarantineOptions }): Promise<ConsumerRunner> {
  const logger = deps.logger.child({ module: 'event-status' });
  return runBatchConsumer(deps.messaging, {
    groupId: EVENT_STATUS_CONSUMER,
    ...(deps.quarantine ? { quarantine: deps.quarantine } : {}),
    topics: [TOPICS.messageCenterStatus],
    maxBatchSize: 2_000,
    concurrency: TOPICS.messageCenterStatus.partitions,
    fromBeginning: true,
    async handleBatch(messages: IncomingMessage<MessageCenterStatus>[]) {
      for (const queue of ['rtEvent', 'batchEvent'] as const) {
        const verdicts = messages.map((m) => m.envelope.payload).filter((v) => v.queue === queue);
        if (verdicts.length === 0) continue;
        try {
          const result = await deps.pool.query(
            `UPDATE ${TABLE[queue]} e
                SET status = u.status, failure_reason = u.reason, processing = coalesce(e.processing, u.processing), processed = u.processed
               FROM unnest($1::bigint[], $2::smallint[], $3::text[], $4::timestamptz[], $5::timestamptz[]) AS u(id, status, reason, processing, processed)
              WHERE e.id = u.id AND e.status IN (0, 1)`,
            [verdicts.map((v) => v.eventId), verdicts.map((v) => STATUS_VALUE[v.status]), verdicts.map((v) => v.failureReason ?? null), verdicts.map((v) => v.processingAt), verdicts.map((v) => v.processedAt)],
          );
          logger.debug({ event: 'event.status.applied', queue, verdicts: verdicts.length, updated: result.rowCount }, 'event statuses applied');
        } catch (err) {
          // A refusal of the data itself (SQLSTATE classes 22, 23, 42) will not get better: dead-letter it.
          const code = (err as { code?: unknown }).code;
          if (typeof code === 'string' && /^(22|23|42)/.test(code)) throw errors.invalidMessage(TOPICS.messageCenterStatus.name, (err as Error).message);
          throw err;
        }
      }
    },
  });
}
