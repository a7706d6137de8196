SELECT * FROM runs WHERE workspace_id = $1
    AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR env = $3)
    AND ($4::text IS NULL OR runbook = $4) AND ($5::bigint IS NULL OR id < $5)
    AND ($6::bigint IS NULL OR session_id = $6)
    AND ($8::text IS NULL OR created_by = $8)
    AND ($9::timestamptz IS NULL OR created_at >= $9)
    AND ($10::timestamptz IS NULL OR created_at < $10)
    -- every word of the search ($11, a JSON array of lowercase words) appears
    AND ($11::jsonb IS NULL OR NOT EXISTS (
        SELECT 1 FROM jsonb_array_elements_text($11::jsonb) AS w(word)
        WHERE strpos(lower(concat_ws(' ', '#' || runs.id, runs.text, runs.runbook, runs.env,
            runs.target, runs.created_by, runs.error, runs.params::text)), w.word) = 0))
ORDER BY id DESC LIMIT $7
