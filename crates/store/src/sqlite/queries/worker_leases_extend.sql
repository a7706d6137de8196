UPDATE runs SET heartbeat_at = ?2
WHERE worker_id = ?1 AND status = 'running' AND id IN (SELECT value FROM json_each(?3))
RETURNING id, cancel_requested
