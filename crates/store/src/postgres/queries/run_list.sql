SELECT * FROM runs WHERE workspace_id = $1
    AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR env = $3)
    AND ($4::text IS NULL OR runbook = $4) AND ($5::bigint IS NULL OR id < $5)
    AND ($6::bigint IS NULL OR session_id = $6)
ORDER BY id DESC LIMIT $7
