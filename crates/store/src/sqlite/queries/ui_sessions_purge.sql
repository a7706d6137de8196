DELETE FROM ui_sessions WHERE workspace_id = ?1 AND expires_at <= ?2
