-- One statement, so one round trip and one commit: claims the due runs whose
-- lane and env lock are free, and writes each attempt's first event, whose
-- text and data are `rules::attempt_started_template` ($4, $5) filled in.
WITH cand AS (
    SELECT r.id FROM runs r WHERE r.status = 'queued' AND r.run_after <= $1
    AND /* keys_free */
    ORDER BY r.priority DESC, r.id LIMIT $2 FOR UPDATE SKIP LOCKED),
u AS (
    UPDATE runs SET status = 'running', attempt = attempt + 1, lease = lease + 1, worker_id = $3,
        heartbeat_at = $1, started_at = COALESCE(started_at, $1), updated_by = $3, last_seq = last_seq + 1
    FROM cand WHERE runs.id = cand.id
    RETURNING runs.*),
ins AS (
    INSERT INTO run_events (run_id, seq, workspace_id, ts, level, phase, message, data)
    SELECT id, last_seq, workspace_id, $1, 'info', NULL,
        replace(replace(replace($4, '{attempt}', attempt::text), '{max_attempts}', max_attempts::text),
            '{worker_id}', $3),
        jsonb_set($5::jsonb, '{attempt}', to_jsonb(attempt))
    FROM u)
SELECT * FROM u
