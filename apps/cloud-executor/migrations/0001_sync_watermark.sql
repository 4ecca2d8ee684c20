-- Per-key watermark of the newest staging sequence applied to the cloud DB: a redelivered older change
-- (lower seq) is skipped, so per-key order survives redelivery and rebalancing.
CREATE TABLE IF NOT EXISTS cap_sync_watermark (
  schema_name text        NOT NULL,
  record_key  text        NOT NULL,
  seq         bigint      NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (schema_name, record_key)
);
