-- Prepare (analysis without sending, an xtk:jobInterface job of nms:delivery): the delivery is targeted like any
-- other — its logs written pending, its counts recorded — and then waits in phase 'prepared' (nms:delivery @state
-- 25, messages ready, to be confirmed) instead of sending. The runner only takes 'targeting' and 'sending', so a
-- prepared delivery sends nothing until Start (play) moves it to 'sending'. prepare_only says where targeting ends.
ALTER TABLE cap_delivery_job DROP CONSTRAINT IF EXISTS cap_delivery_job_phase_check;
ALTER TABLE cap_delivery_job ADD CONSTRAINT cap_delivery_job_phase_check
  CHECK (phase IN ('targeting', 'sending', 'finished', 'failed', 'paused', 'stopped', 'prepared'));
ALTER TABLE cap_delivery_job ADD COLUMN IF NOT EXISTS prepare_only boolean NOT NULL DEFAULT false;
