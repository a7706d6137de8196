-- The worker may have heartbeated or finished since the run was read: then nothing changes.
UPDATE runs SET status = ?2, finished_at = ?3, run_after = ?4, error = ?5, last_seq = last_seq + 1,
    worker_id = CASE WHEN ?2 = 'queued' THEN NULL ELSE worker_id END, updated_by = 'rescuer'
WHERE id = ?1 AND lease = ?6 AND status = 'running' AND heartbeat_at < ?7
RETURNING *
