-- Deliveries (nms:delivery#SubmitDelivery) and the message center (transactional events).
--
-- A delivery action is a durable job: SubmitDelivery records it here (phase 'targeting') and replies; a worker
-- holding the job's advisory lock writes the delivery logs (nms_broad_log_rcp, one transaction), then sends
-- them batch by batch, each batch's log statuses and the job's counters committed together. A worker that
-- dies loses its lock with its connection; the next one resumes with the logs still pending (status 0), so a
-- log already marked sent is never sent again.

-- Delivery action ids come from this sequence, above 2^50 (1125899906842624): the local DB's identity never
-- reaches that range, so the action keeps its id in nms:delivery on both sides.
CREATE SEQUENCE IF NOT EXISTS cap_delivery_action_seq;

CREATE TABLE IF NOT EXISTS cap_delivery_job (
  delivery_id        bigint      PRIMARY KEY,
  internal_name      text        NOT NULL,
  template_name      text        NOT NULL,
  -- The merged definition (template + SubmitDelivery fragment) the action was created with.
  definition         jsonb       NOT NULL,
  phase              text        NOT NULL CHECK (phase IN ('targeting', 'sending', 'finished', 'failed')),
  -- nms:delivery:state as published: 45 start requested, 55 in progress, 95 finished, 99 failed.
  state              integer     NOT NULL,
  failure_text       text,
  targeted           integer     NOT NULL DEFAULT 0,
  excluded           integer     NOT NULL DEFAULT 0,
  to_deliver         integer     NOT NULL DEFAULT 0,
  processed          integer     NOT NULL DEFAULT 0,
  success            integer     NOT NULL DEFAULT 0,
  error              integer     NOT NULL DEFAULT 0,
  error_rendering    integer     NOT NULL DEFAULT 0,
  error_refused      integer     NOT NULL DEFAULT 0,
  error_unreachable  integer     NOT NULL DEFAULT 0,
  -- Consecutive runs that stopped because the channel was down (the job waits next_run_at, with backoff).
  paused_runs        integer     NOT NULL DEFAULT 0,
  next_run_at        timestamptz NOT NULL DEFAULT now(),
  -- Every change increments state_version; the publisher sends delivery.state.changed.v1 and records it.
  state_version      bigint      NOT NULL DEFAULT 1,
  published_version  bigint      NOT NULL DEFAULT 0,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  finished_at        timestamptz
);
CREATE INDEX IF NOT EXISTS cap_delivery_job_runnable ON cap_delivery_job (next_run_at) WHERE phase IN ('targeting', 'sending');
CREATE INDEX IF NOT EXISTS cap_delivery_job_unpublished ON cap_delivery_job (delivery_id) WHERE published_version < state_version;

-- Message center: events whose sending failed for a temporary reason (or are scheduled for later) wait here
-- for the retry loop. Once final, `verdict` holds the status message still to publish; the row is deleted
-- after the publish, so a crash between the two publishes it again.
CREATE TABLE IF NOT EXISTS cap_mc_retry (
  queue            text        NOT NULL,
  event_id         bigint      NOT NULL,
  event            jsonb       NOT NULL,
  attempts         integer     NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL,
  last_error       text,
  first_seen_at    timestamptz NOT NULL DEFAULT now(),
  verdict          jsonb,
  PRIMARY KEY (queue, event_id)
);
CREATE INDEX IF NOT EXISTS cap_mc_retry_due ON cap_mc_retry (next_attempt_at) WHERE verdict IS NULL;
CREATE INDEX IF NOT EXISTS cap_mc_retry_unpublished ON cap_mc_retry (queue, event_id) WHERE verdict IS NOT NULL;
