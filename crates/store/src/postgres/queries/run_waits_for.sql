-- What a queued run waits for (`keys_free.sql`'s condition, read the
-- other way): the oldest open run ahead of it in its lane, else the run
-- holding its env lock (running), else the oldest queued run ahead of it
-- on that lock.
SELECT id, reason FROM (
    SELECT * FROM (SELECT e.id, 'lane' AS reason, 0 AS pri FROM runs e
        WHERE e.workspace_id = $1 AND e.lane_key = $2 AND e.id < $4
        AND e.status IN ('queued','running','awaiting_approval') ORDER BY e.id LIMIT 1) l
    UNION ALL
    SELECT * FROM (SELECT e.id, 'env_lock' AS reason, 1 AS pri FROM runs e
        WHERE e.workspace_id = $1 AND e.lock_key = $3 AND e.id <> $4
        AND (e.status = 'running' OR (e.status = 'queued' AND e.id < $4))
        ORDER BY (e.status = 'running') DESC, e.id LIMIT 1) k
) w ORDER BY pri LIMIT 1
