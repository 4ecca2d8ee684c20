-- staging-sync advances a key's watermark and reads the one it replaces in the same statement
-- (INSERT … ON CONFLICT DO UPDATE SET prev_seq = seq, seq = GREATEST(…) RETURNING prev_seq): one write per key
-- per batch instead of a lock followed by an update.
ALTER TABLE cap_sync_watermark ADD COLUMN IF NOT EXISTS prev_seq bigint;
