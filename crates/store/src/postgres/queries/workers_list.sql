-- The runs each worker holds, across workspaces: a SECURITY DEFINER
-- function (migration 0004_rls).
SELECT id, host, pid, state, concurrency, started_at, heartbeat_at, running FROM opsroom_workers_list()
