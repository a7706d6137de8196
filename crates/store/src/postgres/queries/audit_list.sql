-- A filtered page of a workspace's audit log, in id order either way;
-- $6 is the cursor: only ids after it in that order.
SELECT id, workspace_id, ts, actor, action, subject, source, details FROM audit_log
WHERE workspace_id = $1
    AND ($2::timestamptz IS NULL OR ts >= $2)
    AND ($3::text IS NULL OR action = $3)
    AND ($4::text IS NULL OR actor = $4)
    AND ($6::bigint IS NULL OR (CASE WHEN $5 THEN id < $6 ELSE id > $6 END))
ORDER BY CASE WHEN $5 THEN -id ELSE id END
LIMIT $7
