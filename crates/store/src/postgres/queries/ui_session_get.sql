SELECT workspace_id, user_name, bootstrap_admin, csrf_token, created_at, expires_at FROM ui_sessions WHERE digest = $1
