-- Ends many attempts in one statement: each run whose lease still holds
-- gets its status and its last events; the others are left alone.
WITH d AS (
    SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[], $5::timestamptz[],
        $6::text[], $7::bigint[], $8::jsonb[])
        AS d(id, lease, status, finished_at, run_after, error, n, phases)),
u AS (
    UPDATE runs SET status = d.status, finished_at = d.finished_at,
        run_after = COALESCE(d.run_after, runs.run_after), error = d.error,
        last_seq = runs.last_seq + d.n, phases = COALESCE(d.phases, runs.phases),
        worker_id = CASE WHEN d.status = 'queued' THEN NULL ELSE runs.worker_id END,
        updated_by = COALESCE(runs.worker_id, 'system')
    FROM d WHERE runs.id = d.id AND runs.workspace_id = $16 AND runs.lease = d.lease AND runs.status = 'running'
    RETURNING runs.*, runs.last_seq - d.n AS base),
ins AS (
    INSERT INTO run_events (run_id, seq, workspace_id, ts, level, phase, message, data)
    SELECT u.id, u.base + e.ord, u.workspace_id, e.ts, e.level, e.phase, e.message, e.data
    FROM UNNEST($9::bigint[], $10::bigint[], $11::timestamptz[], $12::text[], $13::text[],
        $14::text[], $15::jsonb[]) AS e(run_id, ord, ts, level, phase, message, data)
    JOIN u ON u.id = e.run_id)
SELECT * FROM u
