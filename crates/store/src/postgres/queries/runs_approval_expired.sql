-- Across workspaces: a SECURITY DEFINER function (migration 0005_approvals).
SELECT * FROM opsroom_runs_approval_expired($1)
