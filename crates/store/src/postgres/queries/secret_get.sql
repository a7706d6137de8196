SELECT workspace_id, name, key_id, created_at, updated_at, updated_by, sealed
FROM secrets WHERE workspace_id = $1 AND name = $2
