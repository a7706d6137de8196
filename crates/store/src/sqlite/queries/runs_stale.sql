SELECT * FROM runs WHERE status = 'running' AND heartbeat_at < ?1 ORDER BY id
