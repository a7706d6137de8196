INSERT INTO ui_sessions (digest, workspace_id, user_name, bootstrap_admin, csrf_token, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
