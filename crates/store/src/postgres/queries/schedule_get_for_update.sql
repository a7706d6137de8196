SELECT * FROM schedules WHERE workspace_id = $1 AND id = $2 FOR NO KEY UPDATE
