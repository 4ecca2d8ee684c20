-- Routes of staged changes the relay sent under another record key than their own (staging.router.ts): an
-- IngestExt by @email sent behind a live Ingest of the same recipient keyed by @id. A relay that starts to
-- lead reads them back, so the changes still in flight keep the order they were given. A row goes when its
-- change has been applied in the cloud database.
CREATE TABLE IF NOT EXISTS cap_outbox_route (
  source text   NOT NULL,
  seq    bigint NOT NULL,
  route  text   NOT NULL,
  PRIMARY KEY (source, seq)
);
