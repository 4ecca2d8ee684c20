-- Workflow engine (xtk:workflow#Start, Stop, Pause, Resume, PostEvent, StartWithParameters): the durable
-- state of each workflow's current run. Every step of the engine is one transaction that first locks the
-- workflow's instance row (SELECT … FOR UPDATE), so two replicas never run the same workflow at once, and a
-- crashed engine resumes from the committed tasks without running a completed activity again.

-- One row per workflow (workflow_id = the xtk:workflow @id of the local DB); run_id counts its runs.
CREATE TABLE IF NOT EXISTS cap_wkf_instance (
  workflow_id       bigint      PRIMARY KEY,
  internal_name     text        NOT NULL,
  run_id            integer     NOT NULL DEFAULT 0,
  -- xtk:workflow:state: 0 being edited, 11 started, 13 paused, 15 stop requested, 20 finished.
  state             smallint    NOT NULL DEFAULT 0 CHECK (state IN (0, 11, 13, 15, 20)),
  failed            boolean     NOT NULL DEFAULT false,
  status            text,
  -- The activities XML the current run was started with (edits to the definition apply to the next run).
  definition        text        NOT NULL DEFAULT '',
  -- Instance variables (instance.vars): StartWithParameters' attributes.
  variables         jsonb       NOT NULL DEFAULT '{}'::jsonb,
  -- Tasks created by the current run (a runaway loop is stopped at the configured ceiling).
  task_count        integer     NOT NULL DEFAULT 0,
  -- Every state change increments state_version; the publisher sends workflow.state.changed.v1 and records
  -- what it sent in published_version (rows behind are published again by the timer loop).
  state_version     bigint      NOT NULL DEFAULT 0,
  published_version bigint      NOT NULL DEFAULT 0,
  started_at        timestamptz,
  finished_at       timestamptz,
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS cap_wkf_instance_name ON cap_wkf_instance (internal_name);
CREATE INDEX IF NOT EXISTS cap_wkf_instance_unpublished ON cap_wkf_instance (workflow_id) WHERE published_version < state_version;

-- One row per activity execution. pending: to run; waiting: an external signal, a wait delay (wake_at) or
-- an and-join still missing transitions (arrived); done / cancelled / failed: over.
CREATE TABLE IF NOT EXISTS cap_wkf_task (
  id            bigserial   PRIMARY KEY,
  workflow_id   bigint      NOT NULL REFERENCES cap_wkf_instance (workflow_id) ON DELETE CASCADE,
  run_id        integer     NOT NULL,
  activity      text        NOT NULL,
  activity_type text        NOT NULL,
  status        text        NOT NULL CHECK (status IN ('pending', 'waiting', 'done', 'cancelled', 'failed')),
  -- Event variables (vars) carried by the transition(s) that activated the task.
  vars          jsonb       NOT NULL DEFAULT '{}'::jsonb,
  arrived       text[]      NOT NULL DEFAULT '{}',
  wake_at       timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  completed_at  timestamptz
);
CREATE INDEX IF NOT EXISTS cap_wkf_task_active ON cap_wkf_task (workflow_id, run_id, id) WHERE status IN ('pending', 'waiting');
CREATE INDEX IF NOT EXISTS cap_wkf_task_due ON cap_wkf_task (wake_at) WHERE status = 'waiting' AND wake_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS cap_wkf_task_pending ON cap_wkf_task (workflow_id) WHERE status = 'pending';

-- Signals (PostEvent). Applied at once on a started workflow; queued (pending) while it is paused.
CREATE TABLE IF NOT EXISTS cap_wkf_event (
  id           bigserial   PRIMARY KEY,
  workflow_id  bigint      NOT NULL REFERENCES cap_wkf_instance (workflow_id) ON DELETE CASCADE,
  run_id       integer     NOT NULL,
  activity     text        NOT NULL,
  transition   text        NOT NULL DEFAULT '',
  vars         jsonb       NOT NULL DEFAULT '{}'::jsonb,
  complete     boolean     NOT NULL DEFAULT false,
  status       text        NOT NULL CHECK (status IN ('pending', 'processed', 'ignored')),
  received_at  timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz
);
CREATE INDEX IF NOT EXISTS cap_wkf_event_pending ON cap_wkf_event (workflow_id, id) WHERE status = 'pending';

-- The workflow log (what the console's audit tab shows): one line per notable step.
CREATE TABLE IF NOT EXISTS cap_wkf_log (
  id          bigserial   PRIMARY KEY,
  workflow_id bigint      NOT NULL REFERENCES cap_wkf_instance (workflow_id) ON DELETE CASCADE,
  run_id      integer     NOT NULL,
  logged_at   timestamptz NOT NULL DEFAULT now(),
  level       text        NOT NULL CHECK (level IN ('info', 'warning', 'error')),
  activity    text,
  message     text        NOT NULL
);
CREATE INDEX IF NOT EXISTS cap_wkf_log_workflow ON cap_wkf_log (workflow_id, id);
