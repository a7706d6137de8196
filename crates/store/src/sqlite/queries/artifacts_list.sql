SELECT id, run_id, workspace_id, kind, name, content, created_at FROM artifacts
WHERE workspace_id = ?1 AND run_id = ?2 ORDER BY id
