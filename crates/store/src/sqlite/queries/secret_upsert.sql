INSERT INTO secrets (workspace_id, name, sealed, key_id, created_at, updated_at, updated_by)
VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)
ON CONFLICT (workspace_id, name) DO UPDATE
SET sealed = excluded.sealed, key_id = excluded.key_id,
    updated_at = excluded.updated_at, updated_by = excluded.updated_by
RETURNING workspace_id, name, key_id, created_at, updated_at, updated_by, sealed
