SELECT id, workspace_id, ts, actor, action, subject, details FROM audit_log
WHERE workspace_id = ?1 ORDER BY id DESC LIMIT ?2
