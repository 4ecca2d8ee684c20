-- Transactional outbox: every staged write and every write to a replicated schema records a row here in
-- the same transaction; the relay publishes rows in id order and marks them published.
CREATE TABLE IF NOT EXISTS cap_outbox (
  id           bigserial PRIMARY KEY,
  topic        text        NOT NULL,
  message_key  text        NOT NULL,
  payload      jsonb       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
CREATE INDEX IF NOT EXISTS cap_outbox_unpublished ON cap_outbox (id) WHERE published_at IS NULL;
