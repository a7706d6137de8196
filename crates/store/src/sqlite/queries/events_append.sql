-- Bumps the run's last_seq (fenced for a worker); the events are written after it.
UPDATE runs SET last_seq = last_seq + ?2, phases = COALESCE(?3, phases)
WHERE id = ?1 AND workspace_id = ?5 AND (?4 IS NULL OR (lease = ?4 AND status = 'running'))
RETURNING workspace_id, last_seq
