UPDATE api_tokens SET revoked_at = $3
WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL
RETURNING id, workspace_id, user_name, name, created_at, created_by, expires_at, revoked_at
