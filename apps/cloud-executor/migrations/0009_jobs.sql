-- Background jobs (xtk:jobInterface Submit / Execute / SubmitSoapCall, xtk:job#GetStatus, GetResult, Cancel,
-- Pause): a job runs a method of an entity in cloud-executor — Start or PrepareAndStart of an nms:delivery, whose
-- delivery action is itself the durable work (cap_delivery_job). A job belongs to the operator who submitted it;
-- its log lines are written when a status read sees the delivery change state, so they survive a restart.
CREATE TABLE IF NOT EXISTS cap_job (
  job_id        text        PRIMARY KEY,
  operator_id   text        NOT NULL,
  schema_id     text        NOT NULL,
  method        text        NOT NULL,
  delivery_id   bigint      NOT NULL,
  -- The nms:delivery @state the last log line reported.
  logged_state  integer,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS cap_job_log (
  id        bigserial   PRIMARY KEY,
  job_id    text        NOT NULL REFERENCES cap_job (job_id) ON DELETE CASCADE,
  -- xtk:jobLog logType: 0 error, 1 warning, 2 info.
  log_type  smallint    NOT NULL,
  message   text        NOT NULL,
  log_date  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS cap_job_log_job ON cap_job_log (job_id, id);
