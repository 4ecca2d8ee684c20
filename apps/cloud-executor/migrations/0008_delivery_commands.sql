-- Delivery commands (nms:delivery#ExecCommand, Play, Pause, Stop): a delivery action may be paused (its pending
-- logs wait; paused_phase says whether it resumes targeting or sending) or stopped (over for good: its pending
-- logs are never sent). The runner only takes jobs in 'targeting' or 'sending', so neither phase is run; a
-- worker sending a batch when the command lands finishes that batch and stops there.
ALTER TABLE cap_delivery_job DROP CONSTRAINT IF EXISTS cap_delivery_job_phase_check;
ALTER TABLE cap_delivery_job ADD CONSTRAINT cap_delivery_job_phase_check
  CHECK (phase IN ('targeting', 'sending', 'finished', 'failed', 'paused', 'stopped'));
ALTER TABLE cap_delivery_job ADD COLUMN IF NOT EXISTS paused_phase text CHECK (paused_phase IN ('targeting', 'sending'));
