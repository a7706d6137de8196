INSERT INTO memberships (workspace_id, user_name, role, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (workspace_id, user_name) DO UPDATE
SET role = excluded.role, updated_at = excluded.updated_at, updated_by = excluded.updated_by
RETURNING workspace_id, user_name, role, updated_at, updated_by
