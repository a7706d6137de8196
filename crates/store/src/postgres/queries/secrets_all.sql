-- Across workspaces (a key rotation): a SECURITY DEFINER function (migration 0004_rls).
SELECT workspace_id, name, key_id, created_at, updated_at, updated_by, sealed FROM opsroom_secrets_all()
