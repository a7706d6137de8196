-- Schedules: a cron expression in a time zone that enqueues a run at each
-- fire time. `request` is what a client would have sent to POST /runs
-- (`{"text"}` or `{"runbook","env","target"?,"params"?}`); it is resolved
-- again at each fire, against the config of that moment.
--
-- `next_fire_at` is the one fire time still to come. Every server's
-- scheduler reads the due schedules, enqueues the run of the fire with the
-- idempotency key `schedule:{id}:{fire time}` (one run per fire, however
-- many servers try) and then moves `next_fire_at` on only if it still
-- holds the fire it read. Fires found too late (the servers were down)
-- are not run: they are counted in `skipped_count` and the latest ranges
-- kept in `skipped` (`[{"first","last","count","noticed_at"}]`).
CREATE TABLE schedules (
    id BIGSERIAL PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    cron TEXT NOT NULL,
    timezone TEXT NOT NULL,
    request JSONB NOT NULL,
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    next_fire_at TIMESTAMPTZ,
    last_fire_at TIMESTAMPTZ,
    last_run_id BIGINT,
    last_error TEXT,
    skipped_count BIGINT NOT NULL DEFAULT 0,
    skipped JSONB NOT NULL DEFAULT '[]',
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX schedules_workspace ON schedules (workspace_id, id);
-- The schedulers' look-up: active schedules by next fire.
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE NOT paused;

-- A run enqueued by a schedule says which one and for which fire time.
ALTER TABLE runs ADD COLUMN schedule_id BIGINT;
ALTER TABLE runs ADD COLUMN scheduled_for TIMESTAMPTZ;

-- Row-level security as migration 0004_rls gives every workspace table.
ALTER TABLE schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedules FORCE ROW LEVEL SECURITY;
CREATE POLICY opsroom_workspace ON schedules
    USING (workspace_id = current_setting('opsroom.workspace', true))
    WITH CHECK (workspace_id = current_setting('opsroom.workspace', true));
CREATE POLICY opsroom_definer ON schedules TO CURRENT_USER
    USING (current_setting('opsroom.definer', true) = 'on');

-- Due schedules of every workspace (0004_rls's pattern: each fire is then
-- enqueued and recorded in its own workspace).
CREATE FUNCTION opsroom_schedules_due(p_now timestamptz, p_limit bigint)
RETURNS SETOF schedules LANGUAGE sql STABLE SECURITY DEFINER SET opsroom.definer = 'on' AS $$
    SELECT * FROM schedules WHERE NOT paused AND next_fire_at <= p_now
    ORDER BY next_fire_at, id LIMIT p_limit
$$;
ALTER FUNCTION opsroom_schedules_due(timestamptz, bigint) SET search_path FROM CURRENT;
REVOKE ALL ON FUNCTION opsroom_schedules_due(timestamptz, bigint) FROM PUBLIC;
