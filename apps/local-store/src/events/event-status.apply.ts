import type { MessageCenterStatus } from '@cap/contracts';
import type { Logger } from '@cap/platform-logger';
import type { Pool } from '@cap/platform-postgres';

/** nms:rtEvent:status values for the message center's verdicts. */
const STATUS_VALUE: Record<MessageCenterStatus['status'], number> = { sent: 2, failed: 3, ignored: 4, expired: 5 };
const TABLE: Record<MessageCenterStatus['queue'], string> = { rtEvent: 'nms_rt_event', batchEvent: 'nms_batch_event' };

/**
 * Applies the message center's verdicts (cloud-executor → messagecenter.event.status.v1) to the stored events:
 * @status, @failureReason, @processing, @processed. One UPDATE per queue per batch; only a pending (or
 * processing) event changes, so a redelivered verdict is harmless and a final status is never overwritten.
 * The pending queue depth that mcPing.jsp reports falls as verdicts arrive.
 */
export async function applyEventStatuses(deps: { pool: Pool; logger: Logger }, statuses: MessageCenterStatus[]): Promise<void> {
  for (const queue of ['rtEvent', 'batchEvent'] as const) {
    const verdicts = statuses.filter((v) => v.queue === queue);
    if (verdicts.length === 0) continue;
    const result = await deps.pool.query(
      `UPDATE ${TABLE[queue]} e
          SET status = u.status, failure_reason = u.reason, processing = coalesce(e.processing, u.processing), processed = u.processed
         FROM unnest($1::bigint[], $2::smallint[], $3::text[], $4::timestamptz[], $5::timestamptz[]) AS u(id, status, reason, processing, processed)
        WHERE e.id = u.id AND e.status IN (0, 1)`,
      [
        verdicts.map((v) => v.eventId),
        verdicts.map((v) => STATUS_VALUE[v.status]),
        verdicts.map((v) => v.failureReason ?? null),
        verdicts.map((v) => v.processingAt),
        verdicts.map((v) => v.processedAt),
      ],
    );
    deps.logger.debug({ event: 'event.status.applied', queue, verdicts: verdicts.length, updated: result.rowCount }, 'event statuses applied');
  }
}
