INSERT INTO sessions (workspace_id, name, created_by, created_at) VALUES (?1, ?2, ?3, ?4)
RETURNING id, workspace_id, name, created_by, created_at
