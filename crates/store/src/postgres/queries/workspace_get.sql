SELECT name, created_at, created_by FROM workspaces WHERE name = $1
