UPDATE schedules SET paused = $3, next_fire_at = $4, updated_at = $5
WHERE workspace_id = $1 AND id = $2
RETURNING *
