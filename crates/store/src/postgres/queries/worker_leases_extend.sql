-- Rows locked in id order, as completions lock them, so the two never deadlock.
UPDATE runs SET heartbeat_at = $2
WHERE id IN (SELECT id FROM runs WHERE worker_id = $1 AND status = 'running' AND id = ANY($3) ORDER BY id FOR UPDATE)
RETURNING id, cancel_requested
