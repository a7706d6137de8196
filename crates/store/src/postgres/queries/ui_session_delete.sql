DELETE FROM ui_sessions WHERE digest = $1 RETURNING workspace_id, user_name, bootstrap_admin, csrf_token, created_at, expires_at
