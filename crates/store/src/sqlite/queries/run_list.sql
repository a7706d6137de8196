SELECT * FROM runs WHERE workspace_id = ?1
    AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR env = ?3)
    AND (?4 IS NULL OR runbook = ?4) AND (?5 IS NULL OR id < ?5)
    AND (?6 IS NULL OR session_id = ?6)
    AND (?8 IS NULL OR created_by = ?8)
    AND (?9 IS NULL OR created_at >= ?9)
    AND (?10 IS NULL OR created_at < ?10)
    -- every word of the search (?11, a JSON array of lowercase words) appears;
    -- columns named in full: json_each has an `id` of its own
    AND (?11 IS NULL OR NOT EXISTS (
        SELECT 1 FROM json_each(?11) AS w
        WHERE instr(lower('#' || runs.id || ' ' || coalesce(runs.text, '') || ' '
            || runs.runbook || ' ' || coalesce(runs.env, '') || ' ' || coalesce(runs.target, '')
            || ' ' || runs.created_by || ' ' || coalesce(runs.error, '') || ' '
            || coalesce(runs.params, '')), w.value) = 0))
ORDER BY id DESC LIMIT ?7
