-- Ends an attempt if its lease still holds; bumps last_seq for its last events.
UPDATE runs SET status = ?2, finished_at = ?3, run_after = COALESCE(?4, run_after), error = ?5,
    last_seq = last_seq + ?6, phases = COALESCE(?7, phases),
    worker_id = CASE WHEN ?2 = 'queued' THEN NULL ELSE worker_id END, updated_by = COALESCE(worker_id, 'system')
WHERE id = ?1 AND workspace_id = ?9 AND lease = ?8 AND status = 'running'
RETURNING *
