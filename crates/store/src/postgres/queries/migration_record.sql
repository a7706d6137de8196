INSERT INTO opsroom_migrations (name) VALUES ($1)
