SELECT * FROM runs WHERE session_id = ?1 AND workspace_id = ?2 ORDER BY id
