SELECT id, workspace_id, user_name, name, created_at, created_by, expires_at, revoked_at FROM api_tokens WHERE workspace_id = ?1 AND id = ?2
