INSERT INTO api_tokens (digest, workspace_id, user_name, name, created_at, created_by, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id, workspace_id, user_name, name, created_at, created_by, expires_at, revoked_at
