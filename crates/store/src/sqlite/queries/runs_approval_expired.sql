SELECT * FROM runs WHERE status = 'awaiting_approval' AND approval_expires_at <= ?1
ORDER BY approval_expires_at, id LIMIT 1000
