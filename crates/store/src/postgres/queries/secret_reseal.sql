UPDATE secrets SET sealed = $3, key_id = $4
WHERE workspace_id = $1 AND name = $2 AND sealed = $5
