SELECT * FROM schedules WHERE workspace_id = $1 ORDER BY id
