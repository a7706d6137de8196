SELECT id, workspace_id, user_name, name, created_at, created_by, expires_at, revoked_at FROM api_tokens WHERE digest = $1
