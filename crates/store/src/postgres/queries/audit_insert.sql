INSERT INTO audit_log (workspace_id, ts, actor, action, subject, source, details)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id, workspace_id, ts, actor, action, subject, source, details
