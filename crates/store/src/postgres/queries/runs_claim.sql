-- One statement, so one round trip and one commit: claims the due runs of
-- every workspace whose lane and env lock are free, and writes each
-- attempt's first event, whose text and data are
-- `rules::attempt_started_template` ($4, $5) filled in. The statement is
-- the SECURITY DEFINER function of migration 0004_rls, so a role without
-- BYPASSRLS can claim across workspaces.
SELECT * FROM opsroom_runs_claim($1, $2, $3, $4, $5)
