SELECT w.id, w.host, w.pid, w.state, w.concurrency, w.started_at, w.heartbeat_at,
    (SELECT group_concat(r.id) FROM runs r WHERE r.worker_id = w.id AND r.status = 'running') AS running
FROM workers w ORDER BY w.heartbeat_at DESC
