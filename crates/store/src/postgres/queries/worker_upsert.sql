INSERT INTO workers (id, host, pid, state, concurrency, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6, $6)
ON CONFLICT (id) DO UPDATE SET state = $4, heartbeat_at = $6
