-- Across workspaces: a SECURITY DEFINER function (migration 0007_schedules).
SELECT * FROM opsroom_schedules_due($1, $2)
