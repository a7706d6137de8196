INSERT INTO users (name, password_hash, created_at, created_by) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (name) DO NOTHING
RETURNING name, password_hash, created_at, created_by
