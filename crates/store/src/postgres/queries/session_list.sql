SELECT id, workspace_id, name, created_by, created_at FROM sessions WHERE workspace_id = $1
ORDER BY id DESC LIMIT $2
