SELECT id, workspace_id, name, created_by, created_at FROM sessions WHERE id = $1 AND workspace_id = $2
