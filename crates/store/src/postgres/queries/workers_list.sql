SELECT w.id, w.host, w.pid, w.state, w.concurrency, w.started_at, w.heartbeat_at,
    COALESCE(array_agg(r.id ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}') AS running
FROM workers w LEFT JOIN runs r ON r.worker_id = w.id AND r.status = 'running'
GROUP BY w.id ORDER BY w.heartbeat_at DESC
