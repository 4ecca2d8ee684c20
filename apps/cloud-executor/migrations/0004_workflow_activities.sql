-- Workflow activities that do work (JavaScript, query, update data). Such a task is claimed under the
-- instance lock (status 'running', lease_until, attempt + 1), run outside any transaction, then completed
-- under the lock again if the claim is still its own. The engine running it renews the lease while it works;
-- an engine that dies leaves a lease that runs out, and any replica's timer loop runs the activity again.

ALTER TABLE cap_wkf_task DROP CONSTRAINT IF EXISTS cap_wkf_task_status_check;
ALTER TABLE cap_wkf_task ADD CONSTRAINT cap_wkf_task_status_check
  CHECK (status IN ('pending', 'running', 'waiting', 'done', 'cancelled', 'failed'));
ALTER TABLE cap_wkf_task ADD COLUMN IF NOT EXISTS lease_until timestamptz;
ALTER TABLE cap_wkf_task ADD COLUMN IF NOT EXISTS attempt integer NOT NULL DEFAULT 0;
-- task.vars: the variables of the task itself (a script's task.vars), kept once it is over.
ALTER TABLE cap_wkf_task ADD COLUMN IF NOT EXISTS task_vars jsonb NOT NULL DEFAULT '{}'::jsonb;

DROP INDEX IF EXISTS cap_wkf_task_active;
CREATE INDEX IF NOT EXISTS cap_wkf_task_active ON cap_wkf_task (workflow_id, run_id, id) WHERE status IN ('pending', 'running', 'waiting');
CREATE INDEX IF NOT EXISTS cap_wkf_task_running ON cap_wkf_task (lease_until) WHERE status = 'running';

-- Working tables built by query activities (one table per task: wkf_wt_<task id>, the primary keys of the
-- targeted population). Dropped when the run ends, is stopped or a new run starts.
CREATE TABLE IF NOT EXISTS cap_wkf_worktable (
  table_name  text        PRIMARY KEY,
  workflow_id bigint      NOT NULL REFERENCES cap_wkf_instance (workflow_id) ON DELETE CASCADE,
  run_id      integer     NOT NULL,
  task_id     bigint      NOT NULL,
  schema_id   text        NOT NULL,
  row_count   bigint      NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS cap_wkf_worktable_workflow ON cap_wkf_worktable (workflow_id);
