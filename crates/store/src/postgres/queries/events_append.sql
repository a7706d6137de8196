-- Bumps the run's last_seq (fenced for a worker) and writes the events after it.
WITH u AS (
    UPDATE runs SET last_seq = last_seq + $2, phases = COALESCE($3, phases)
    WHERE id = $1 AND workspace_id = $10 AND ($4::bigint IS NULL OR (lease = $4 AND status = 'running'))
    RETURNING id, workspace_id, last_seq - $2 AS base, last_seq),
ins AS (
    INSERT INTO run_events (run_id, seq, workspace_id, ts, level, phase, message, data)
    SELECT u.id, u.base + e.ord, u.workspace_id, e.ts, e.level, e.phase, e.message, e.data
    FROM u, UNNEST($5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::jsonb[])
        WITH ORDINALITY AS e(ts, level, phase, message, data, ord))
SELECT last_seq FROM u
