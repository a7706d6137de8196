INSERT INTO runs (workspace_id, runbook, env, target, params, text, plan, risk, status, priority,
    max_attempts, run_after, session_id, lane, lane_key, lock_key, idempotency_key, created_by, created_at,
    timeout_secs, last_seq, updated_by, approval, approval_expires_at, schedule_id, scheduled_for) 
