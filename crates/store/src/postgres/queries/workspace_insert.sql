INSERT INTO workspaces (name, created_at, created_by) VALUES ($1, $2, $3)
ON CONFLICT (name) DO NOTHING
RETURNING name, created_at, created_by
