SELECT * FROM runs WHERE workspace_id = ?1 AND idempotency_key = ?2
