-- Across workspaces: a SECURITY DEFINER function (migration 0004_rls) that
-- locks rows in id order, as completions lock them, so the two never deadlock.
SELECT id, cancel_requested FROM opsroom_worker_leases_extend($1, $2, $3)
