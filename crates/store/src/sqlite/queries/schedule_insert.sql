INSERT INTO schedules (workspace_id, cron, timezone, request, next_fire_at, created_by, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
RETURNING *
