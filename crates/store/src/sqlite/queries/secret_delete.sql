DELETE FROM secrets WHERE workspace_id = ?1 AND name = ?2
