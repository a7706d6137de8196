SELECT workspace_id, user_name, role, updated_at, updated_by FROM memberships WHERE workspace_id = ?1 AND user_name = ?2
