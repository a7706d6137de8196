INSERT INTO audit_log (workspace_id, ts, actor, action, subject, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
