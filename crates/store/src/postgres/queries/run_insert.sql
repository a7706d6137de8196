-- One statement: the run, its `created` event and its audit entry. An
-- existing idempotency key inserts nothing (and returns no row).
WITH r AS (
    INSERT INTO runs (workspace_id, runbook, env, target, params, text, plan, risk, status, priority,
        max_attempts, run_after, session_id, lane, lane_key, lock_key, idempotency_key, created_by, created_at,
        timeout_secs, last_seq, updated_by, approval, approval_expires_at, schedule_id, scheduled_for)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, 1, $18,
        CASE WHEN $9 = 'awaiting_approval' THEN 'pending' END,
        CASE WHEN $9 = 'awaiting_approval' THEN $24::timestamptz END, $27, $28)
    ON CONFLICT (workspace_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING *),
e AS (
    INSERT INTO run_events (run_id, seq, workspace_id, ts, level, phase, message, data)
    SELECT id, 1, workspace_id, created_at, 'info', NULL, $21, $22 FROM r),
a AS (
    INSERT INTO audit_log (workspace_id, ts, actor, action, subject, source, details)
    SELECT workspace_id, created_at, created_by, $26, 'run:' || id, $25, $23 FROM r)
SELECT * FROM r
