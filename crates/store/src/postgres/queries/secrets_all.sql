SELECT workspace_id, name, key_id, created_at, updated_at, updated_by, sealed
FROM secrets ORDER BY workspace_id, name
