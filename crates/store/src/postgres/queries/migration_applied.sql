SELECT name FROM opsroom_migrations WHERE name = $1
