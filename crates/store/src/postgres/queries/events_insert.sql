-- Events given as parallel arrays, one row per element.
INSERT INTO run_events (run_id, seq, workspace_id, ts, level, phase, message, data)
SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
    $7::text[], $8::jsonb[])
