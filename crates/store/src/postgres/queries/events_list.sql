-- The run's row joined with its events: no row when the run is not in the
-- workspace, one row of NULL events when it has no new ones.
SELECT r.id AS run_id, e.seq, e.ts, e.level, e.phase, e.message, e.data
FROM runs r LEFT JOIN run_events e ON e.run_id = r.id AND e.seq > $3
WHERE r.id = $2 AND r.workspace_id = $1
ORDER BY e.seq LIMIT $4
