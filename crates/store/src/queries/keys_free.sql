-- The claim condition for concurrency keys, the same on both backends.
-- Lane: the run is the oldest open run of its lane (queued, running or
-- waiting for approval), so lanes run strictly in enqueue order. Env lock:
-- the run is the oldest queued-or-running run of its key and none of that
-- key is running. Both read the partial indexes `runs_lane_open` and
-- `runs_lock_open` in id order, so a claim costs the same with a long queue.
(r.lane_key IS NULL OR r.id = (SELECT e.id FROM runs e WHERE e.lane_key = r.lane_key
    AND e.status IN ('queued','running','awaiting_approval') ORDER BY e.id LIMIT 1))
AND (r.lock_key IS NULL OR (r.id = (SELECT e.id FROM runs e WHERE e.lock_key = r.lock_key
    AND e.status IN ('queued','running') ORDER BY e.id LIMIT 1)
    AND NOT EXISTS (SELECT 1 FROM runs e WHERE e.lock_key = r.lock_key AND e.status = 'running')))
