SELECT * FROM runs WHERE id = $1 AND workspace_id = $2 FOR NO KEY UPDATE
