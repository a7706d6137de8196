SELECT name, password_hash, created_at, created_by FROM users WHERE name = ?1
