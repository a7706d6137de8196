-- Across workspaces: a SECURITY DEFINER function (migration 0004_rls).
SELECT status, count FROM opsroom_runs_count_by_status()
