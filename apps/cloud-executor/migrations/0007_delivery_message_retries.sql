-- Deliveries: per-message retries. A message whose sending failed for a temporary reason (SMTP 4xx, connection
-- refused, reset or timed out, the channel's breaker open) stays pending (nms_broad_log_rcp.status 0) and gets a
-- row here, written in the same transaction as its batch's statuses: how many attempts it had and when it is due
-- again. The sending loop skips pending logs that are not due yet; the row goes when the log gets its final
-- status (sent, or failed once the attempts are spent), in that same transaction again. A delivery finishes when
-- no log is pending, so only after its retries are settled. A log marked sent is never selected again, so a
-- worker killed while messages wait here resumes them without sending a sent one twice.
CREATE TABLE IF NOT EXISTS cap_delivery_retry (
  log_id           text        PRIMARY KEY,
  delivery_id      bigint      NOT NULL,
  -- Sending attempts so far (all failed temporarily).
  attempts         integer     NOT NULL,
  next_attempt_at  timestamptz NOT NULL,
  last_reason      smallint    NOT NULL,
  last_error       text,
  first_failed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS cap_delivery_retry_due ON cap_delivery_retry (delivery_id, next_attempt_at);
