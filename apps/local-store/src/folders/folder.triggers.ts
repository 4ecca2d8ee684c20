/**
 * xtk:folder `@fullName`, maintained by the database on every write whatever its path (Write, WriteCollection, a
 * package, the install seed, plain SQL), as Campaign maintains it: the labels (the name when a folder has no
 * label) from the root, each followed by `/` — `/Administration/External accounts/`. A value a caller sends is
 * replaced. Renaming or moving a folder rewrites the path of every folder below it, in the same transaction. A
 * move that would put a folder under itself or one of its descendants is refused (SQLSTATE 23514: the writer's
 * database-refusal fault, "a value breaks a rule of the data model"). A parent that does not exist counts as the root.
 * docs/standard-schemas.md#folders.
 */
export const FOLDER_TRIGGERS_SQL = `
CREATE OR REPLACE FUNCTION cap_folder_full_name() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  parent_path text;
BEGIN
  IF NEW.parent_id IS NOT NULL AND NEW.parent_id <> 0 THEN
    IF TG_OP = 'UPDATE' AND NEW.parent_id IS DISTINCT FROM OLD.parent_id AND EXISTS (
      WITH RECURSIVE up(id, parent_id, depth) AS (
        SELECT id, parent_id, 1 FROM xtk_folder WHERE id = NEW.parent_id
        UNION ALL
        SELECT f.id, f.parent_id, up.depth + 1 FROM xtk_folder f JOIN up ON f.id = up.parent_id WHERE up.depth < 10000
      ) SELECT 1 FROM up WHERE up.id = NEW.id
    ) THEN
      RAISE EXCEPTION 'folder % cannot be moved under itself or one of its sub-folders', NEW.id USING ERRCODE = '23514';
    END IF;
    IF NEW.parent_id = NEW.id THEN
      RAISE EXCEPTION 'folder % cannot be its own parent', NEW.id USING ERRCODE = '23514';
    END IF;
    SELECT full_name INTO parent_path FROM xtk_folder WHERE id = NEW.parent_id;
  END IF;
  NEW.full_name := COALESCE(parent_path, '/') || COALESCE(NULLIF(NEW.label, ''), NEW.name) || '/';
  RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER cap_folder_full_name BEFORE INSERT OR UPDATE OF name, label, parent_id, full_name ON xtk_folder
  FOR EACH ROW EXECUTE FUNCTION cap_folder_full_name();
CREATE OR REPLACE FUNCTION cap_folder_children_full_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.full_name IS DISTINCT FROM OLD.full_name THEN
    -- Each child's own BEFORE trigger recomputes its path from this one, and its AFTER trigger goes on down.
    UPDATE xtk_folder SET full_name = NULL WHERE parent_id = NEW.id AND id <> NEW.id;
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER cap_folder_children_full_name AFTER UPDATE ON xtk_folder
  FOR EACH ROW EXECUTE FUNCTION cap_folder_children_full_name();
`;
