-- Across workspaces: a SECURITY DEFINER function (migration 0004_rls).
SELECT * FROM opsroom_runs_stale($1)
