-- After-schema migrations: applied after the schema DDL (applySchemaDdl, from the compiled schemas), because
-- they need tables that the DDL creates and the migrations one folder up run before it (they are applied when
-- the database is opened, before the schemas). cloud-executor applies this folder right after its schema DDL,
-- when MIGRATE_ON_START, recorded in cap_schema_migrations as `after-schema/<file>`, append-only like the others.
--
-- The delivery runner reads a delivery's pending logs in id order (nms_broad_log_rcp, status 0 = pending): a
-- partial index keeps that cheap. It was created at every start before; IF NOT EXISTS keeps databases that
-- already have it as they are.
CREATE INDEX IF NOT EXISTS cap_broad_log_rcp_pending ON nms_broad_log_rcp (delivery_id, id) WHERE status = 0;
