-- One statement on the single writer connection: atomic by construction.
UPDATE runs SET status = 'running', attempt = attempt + 1, lease = lease + 1, worker_id = ?3,
    heartbeat_at = ?1, started_at = COALESCE(started_at, ?1), updated_by = ?3, last_seq = last_seq + 1
WHERE id IN (
    SELECT r.id FROM runs r WHERE r.status = 'queued' AND r.run_after <= ?1
    AND /* keys_free */
    ORDER BY r.priority DESC, r.id LIMIT ?2)
RETURNING *
