-- Notifications of run events, delivered durably.
--
-- A run event people are told about (waiting for approval, started,
-- succeeded, failed, rescued) is queued as a notice by the database itself,
-- in the transaction that changed the run: the triggers below watch the one
-- column every transition writes (`runs.status`), whichever statement wrote
-- it (insert, claim, completion, approval, rescue). Workers turn each notice
-- into one delivery per channel whose filters match (the channels live in
-- opsroom.toml, not here), send them with retries, and log every attempt.
CREATE TABLE run_notices (
    id BIGSERIAL PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    event TEXT NOT NULL
);

CREATE TABLE notification_deliveries (
    id BIGSERIAL PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    notice_id BIGINT NOT NULL,
    channel TEXT NOT NULL,
    event TEXT NOT NULL,
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    -- The run as it was when the delivery was queued (the body's "run").
    run JSONB NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending','delivered','failed')),
    attempts INT NOT NULL DEFAULT 0,
    next_at TIMESTAMPTZ NOT NULL,
    -- A sender's claim: nobody else sends it before then.
    locked_until TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (notice_id, channel)
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_at) WHERE state = 'pending';

CREATE TABLE notification_attempts (
    id BIGSERIAL PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    delivery_id BIGINT NOT NULL REFERENCES notification_deliveries(id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    event TEXT NOT NULL,
    run_id BIGINT NOT NULL,
    attempt INT NOT NULL,
    status_code INT,
    error TEXT,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX notification_attempts_workspace ON notification_attempts (workspace_id, id DESC);

-- Row-level security as migration 0004 gives every workspace table.
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity
        ORDER BY c.relname
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY opsroom_workspace ON %s
            USING (workspace_id = current_setting('opsroom.workspace', true))
            WITH CHECK (workspace_id = current_setting('opsroom.workspace', true))$p$, t);
        EXECUTE format($p$CREATE POLICY opsroom_definer ON %s TO CURRENT_USER
            USING (current_setting('opsroom.definer', true) = 'on')$p$, t);
    END LOOP;
END $$;

-- The notice of a status change. SECURITY DEFINER so that it writes the
-- notice whoever changed the run (a restricted role granted before this
-- table existed, or the claim's own definer function).
CREATE FUNCTION opsroom_runs_notice() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET opsroom.definer = 'on' AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status = 'awaiting_approval' THEN
            INSERT INTO run_notices (workspace_id, run_id, event)
            VALUES (NEW.workspace_id, NEW.id, 'run.awaiting_approval');
        END IF;
        RETURN NULL;
    END IF;
    IF NEW.updated_by = 'rescuer' THEN
        INSERT INTO run_notices (workspace_id, run_id, event)
        VALUES (NEW.workspace_id, NEW.id, 'run.rescued');
    END IF;
    IF NEW.status IN ('awaiting_approval', 'running', 'succeeded', 'failed') THEN
        INSERT INTO run_notices (workspace_id, run_id, event)
        VALUES (NEW.workspace_id, NEW.id,
            CASE NEW.status WHEN 'running' THEN 'run.started' ELSE 'run.' || NEW.status END);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER runs_notice_insert AFTER INSERT ON runs
    FOR EACH ROW WHEN (NEW.status = 'awaiting_approval') EXECUTE FUNCTION opsroom_runs_notice();
CREATE TRIGGER runs_notice_update AFTER UPDATE OF status ON runs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION opsroom_runs_notice();

-- Notices of every workspace not yet turned into deliveries, oldest first
-- (each is then fanned out in its own workspace).
CREATE FUNCTION opsroom_run_notices_pending(p_limit bigint)
RETURNS SETOF run_notices LANGUAGE sql STABLE SECURITY DEFINER SET opsroom.definer = 'on' AS $$
    SELECT * FROM run_notices ORDER BY id LIMIT p_limit
$$;

-- Claims due deliveries of every workspace until `p_until`; one sender each.
CREATE FUNCTION opsroom_notification_deliveries_claim(p_now timestamptz, p_until timestamptz,
    p_limit bigint)
RETURNS SETOF notification_deliveries LANGUAGE sql SECURITY DEFINER SET opsroom.definer = 'on' AS $$
    UPDATE notification_deliveries d SET locked_until = p_until
    WHERE d.id IN (SELECT c.id FROM notification_deliveries c
        WHERE c.state = 'pending' AND c.next_at <= p_now
        AND (c.locked_until IS NULL OR c.locked_until <= p_now)
        ORDER BY c.next_at, c.id LIMIT p_limit FOR UPDATE SKIP LOCKED)
    RETURNING d.*
$$;

DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = current_schema() AND p.prosecdef
        AND p.proname IN ('opsroom_runs_notice', 'opsroom_run_notices_pending',
            'opsroom_notification_deliveries_claim')
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END $$;
