-- The staging pipeline (architecture §3 flows 1 and 5).
--
-- cap_outbox rows are written by triggers on the staging (…_stg) tables and on the tables of replicated
-- schemas, in the writing transaction; the relay publishes them in id order and then deletes them (the
-- published_at column of 0001 is not used: a published row is gone, so the table stays small).
--
-- payload is the Kafka message (contracts: stagedChangeSchema). For replicated rows "seq" is null and the
-- relay uses the outbox id, which grows with commit order for any one key (writers of one row are serialised
-- by its row lock).
CREATE OR REPLACE FUNCTION cap_outbox_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  target_schema text := TG_ARGV[0];
  source_schema text := TG_ARGV[1];
  topic_name    text := TG_ARGV[2];
  rec           jsonb;
  old_rec       jsonb;
  key_cols      text[];
  key_text      text;
  old_key_text  text;
  fields        text[];
  op            text;
  seq           bigint;
  recorded      timestamptz := now();
BEGIN
  IF TG_OP = 'DELETE' THEN
    rec := to_jsonb(OLD);
    op := 'delete';
  ELSE
    rec := to_jsonb(NEW);
    op := 'upsert';
  END IF;
  IF TG_ARGV[3] = '' THEN
    -- A staging row says itself which columns identify it, which it carries and what to do.
    key_cols := ARRAY(SELECT jsonb_array_elements_text(rec->'cap_key'));
    fields := ARRAY(SELECT jsonb_array_elements_text(rec->'cap_fields'));
    op := rec->>'cap_op';
    seq := (rec->>'cap_seq')::bigint;
    recorded := (rec->>'cap_staged_at')::timestamptz;
    rec := rec - ARRAY['cap_seq', 'cap_op', 'cap_staged_at', 'cap_synced_at', 'cap_fields', 'cap_key'];
  ELSE
    key_cols := string_to_array(TG_ARGV[3], ',');
  END IF;
  SELECT string_agg(k.c || '=' || coalesce(rec->>k.c, ''), ',' ORDER BY k.ord) INTO key_text
    FROM unnest(key_cols) WITH ORDINALITY AS k(c, ord);

  IF TG_OP = 'UPDATE' THEN
    -- A replicated row whose key changed: the old key is deleted in the cloud copy first.
    old_rec := to_jsonb(OLD);
    SELECT string_agg(k.c || '=' || coalesce(old_rec->>k.c, ''), ',' ORDER BY k.ord) INTO old_key_text
      FROM unnest(key_cols) WITH ORDINALITY AS k(c, ord);
    IF old_key_text IS DISTINCT FROM key_text THEN
      INSERT INTO cap_outbox (topic, message_key, payload) VALUES (
        topic_name, target_schema || '|' || old_key_text,
        jsonb_build_object('kind', 'record', 'schema', target_schema, 'source', source_schema, 'seq', NULL, 'op', 'delete',
                           'keyColumns', to_jsonb(key_cols), 'record', old_rec, 'recordedAt', recorded));
    END IF;
  END IF;

  INSERT INTO cap_outbox (topic, message_key, payload) VALUES (
    topic_name, target_schema || '|' || key_text,
    jsonb_strip_nulls(jsonb_build_object('kind', 'record', 'schema', target_schema, 'source', source_schema, 'seq', seq::text, 'op', op,
                       'keyColumns', to_jsonb(key_cols), 'fields', CASE WHEN fields IS NULL THEN NULL ELSE to_jsonb(fields) END,
                       'recordedAt', recorded))
      || jsonb_build_object('record', rec));
  PERFORM pg_notify('cap_outbox', '');
  RETURN NULL;
END
$$;

-- nms:subscription#Subscribe / Unsubscribe, staged: the recipient lives in the cloud DB, so the request is
-- kept as it came (recipient key and fields, service names) and applied there by staging-sync.
CREATE TABLE IF NOT EXISTS cap_subscription_request (
  seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  action           text        NOT NULL CHECK (action IN ('subscribe', 'unsubscribe')),
  services         text[]      NOT NULL,
  create_recipient boolean     NOT NULL,
  recipient        jsonb       NOT NULL,
  staged_at        timestamptz NOT NULL DEFAULT now(),
  synced_at        timestamptz
);
CREATE INDEX IF NOT EXISTS cap_subscription_request_unsynced ON cap_subscription_request (seq) WHERE synced_at IS NULL;

-- What staging-sync reported back, per staging source (a staging schema, or cap_subscription_request).
CREATE TABLE IF NOT EXISTS cap_sync_status (
  source          text PRIMARY KEY,
  last_synced_seq bigint      NOT NULL DEFAULT 0,
  last_synced_at  timestamptz,
  synced_total    bigint      NOT NULL DEFAULT 0,
  dead_lettered   bigint      NOT NULL DEFAULT 0
);
