UPDATE runs SET status = $2, cancel_requested = $3, finished_at = $4, approved_by = COALESCE($5, approved_by),
    error = COALESCE($6, error), last_seq = last_seq + 1, updated_by = $7,
    approval = COALESCE($8, approval), decided_by = COALESCE($9, decided_by),
    decided_at = CASE WHEN $8::text IS NULL THEN decided_at ELSE $10 END,
    decision_comment = COALESCE($11, decision_comment)
WHERE id = $1
RETURNING *
