UPDATE runs SET status = ?2, cancel_requested = ?3, finished_at = ?4, approved_by = COALESCE(?5, approved_by),
    error = COALESCE(?6, error), last_seq = last_seq + 1, updated_by = ?7
WHERE id = ?1
RETURNING *
