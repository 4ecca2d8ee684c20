-- Uploaded files (/nl/jsp/uploadFile.jsp), kept in the local database so that every gateway replica serves the
-- same files with no shared volume (docs/files-and-reports.md). One row per content (by md5); who uploaded it
-- under which extension decides who may read it; a content becomes public (/res/…) only once
-- xtk:fileRes#PublishIfNeeded checked the caller may publish it (apps/local-store/src/files/file.rpc-handlers.ts).
-- Contents travel in parts of at most 1 MiB (one RPC each): cap_file_part holds an upload's parts until it is
-- committed into cap_file_blob, where EXTERNAL storage (uncompressed) lets a download read one part at a time.
CREATE TABLE IF NOT EXISTS cap_file_blob (
  md5 char(32) PRIMARY KEY,
  content bytea NOT NULL,
  size integer NOT NULL,
  content_type text NOT NULL,
  created timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE cap_file_blob ALTER COLUMN content SET STORAGE EXTERNAL;

CREATE TABLE IF NOT EXISTS cap_file_part (
  upload_id uuid NOT NULL,
  seq integer NOT NULL,
  bytes bytea NOT NULL,
  created timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (upload_id, seq)
);

CREATE TABLE IF NOT EXISTS cap_file_upload (
  md5 char(32) NOT NULL REFERENCES cap_file_blob (md5) ON DELETE CASCADE,
  ext text NOT NULL,
  operator_id bigint NOT NULL,
  file_name text NOT NULL,
  created timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (md5, ext, operator_id)
);

CREATE TABLE IF NOT EXISTS cap_file_published (
  md5 char(32) NOT NULL REFERENCES cap_file_blob (md5) ON DELETE CASCADE,
  ext text NOT NULL,
  published timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (md5, ext)
);
