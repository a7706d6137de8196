-- Written for a worker only while it holds the lease (?2), or by the control plane (?2 NULL).
INSERT INTO artifacts (run_id, workspace_id, kind, name, content, created_at, created_by)
SELECT id, workspace_id, ?3, ?4, ?5, ?6, COALESCE(worker_id, 'system') FROM runs
WHERE id = ?1 AND workspace_id = ?7 AND (?2 IS NULL OR (lease = ?2 AND status = 'running'))
RETURNING id, run_id, workspace_id, kind, name, content, created_at
