-- A due fire recorded; the caller read the row in this transaction and
-- checked it still had the fire it handled.
UPDATE schedules SET next_fire_at = $3, last_fire_at = $4, last_run_id = $5, last_error = $6,
    skipped_count = $7, skipped = $8, updated_at = $9
WHERE workspace_id = $1 AND id = $2
