-- Delivery activities of workflows: the delivery action a workflow task created. One action per task, whatever
-- happens to the engine running it: an activity run again after a crash finds its action here instead of
-- creating (and sending) another one.
ALTER TABLE cap_delivery_job ADD COLUMN IF NOT EXISTS workflow_task_id bigint;
CREATE UNIQUE INDEX IF NOT EXISTS cap_delivery_job_workflow_task ON cap_delivery_job (workflow_task_id) WHERE workflow_task_id IS NOT NULL;
