-- Source schemas authored at run time (xtk:session#Write of an xtk:srcSchema, docs/schema-authoring.md): the
-- srcSchema XML as written, by id. Every service compiles them over the schema files at start; local-store's copy
-- is the reference, cloud-executor keeps its own so that it starts without asking local-store.
CREATE TABLE IF NOT EXISTS cap_authored_schema (
  id text PRIMARY KEY,
  source text NOT NULL,
  md5 text NOT NULL,
  created timestamptz NOT NULL DEFAULT now(),
  last_modified timestamptz NOT NULL DEFAULT now()
);
