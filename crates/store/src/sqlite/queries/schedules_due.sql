SELECT * FROM schedules WHERE NOT paused AND next_fire_at <= $1 ORDER BY next_fire_at, id LIMIT $2
