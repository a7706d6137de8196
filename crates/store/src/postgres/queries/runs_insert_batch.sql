-- Many runs in one statement, columns bound as arrays; ids follow input order.
INSERT INTO runs (workspace_id, runbook, env, target, params, text, plan, risk, status, priority,
    max_attempts, run_after, session_id, lane, lane_key, lock_key, created_by, created_at, timeout_secs,
    last_seq, updated_by, approval, approval_expires_at)
SELECT ws, rb, env, tgt, prm, txt, pln, risk, st, prio, att, ra, sid, lane, lk, lck, actor, ca, tmo, 1, actor,
    CASE WHEN st = 'awaiting_approval' THEN 'pending' END, CASE WHEN st = 'awaiting_approval' THEN exp END
FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[], $7::jsonb[], $8::text[],
    $9::text[], $10::int[], $11::int[], $12::timestamptz[], $13::bigint[], $14::text[], $15::text[], $16::text[],
    $17::text[], $18::timestamptz[], $19::bigint[], $20::timestamptz[]) WITH ORDINALITY
    AS t(ws, rb, env, tgt, prm, txt, pln, risk, st, prio, att, ra, sid, lane, lk, lck, actor, ca, tmo, exp, ord)
ORDER BY ord
RETURNING *
