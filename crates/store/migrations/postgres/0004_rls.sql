-- Workspaces isolated by row-level security.
--
-- Every table with a workspace_id that has no row-level security yet (a
-- migration that enables it itself keeps its own policies) gets it enabled
-- and forced (the owner too is subject to it) with one policy: a row is
-- seen and written only when the transaction's `opsroom.workspace` names
-- its workspace. The store sets it in every transaction that has a
-- workspace (`set_config('opsroom.workspace', …, true)`); without it a role
-- without BYPASSRLS sees no row at all.
--
-- Workers serve every workspace. What they do across workspaces (claim,
-- lease extension, finding stale runs, metrics, listing workers, reading
-- every secret for a key rotation) goes through the SECURITY DEFINER
-- functions below: they run as the migrating role with `opsroom.definer`
-- set, which the second policy (`opsroom_definer`, for that role only)
-- lets through. A restricted role calling them sees only what they return;
-- setting `opsroom.definer` itself gives it nothing (the policy is not for
-- it). Every other write of a worker (events, artifacts, completion,
-- rescue) names the run's workspace and passes the first policy.
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

-- The claim: `queries/runs_claim.sql`'s one statement, with the lane and
-- env-lock condition of `src/queries/keys_free.sql` (a test checks that this
-- function holds that condition). PL/pgSQL so its plan is cached.
CREATE FUNCTION opsroom_runs_claim(p_now timestamptz, p_limit bigint, p_worker text, p_message text,
    p_data jsonb)
RETURNS SETOF runs LANGUAGE plpgsql SECURITY DEFINER SET opsroom.definer = 'on' AS $$
BEGIN
    RETURN QUERY
    WITH cand AS (
        SELECT r.id FROM runs r WHERE r.status = 'queued' AND r.run_after <= p_now
        AND (r.lane_key IS NULL OR r.id = (SELECT e.id FROM runs e WHERE e.lane_key = r.lane_key
            AND e.status IN ('queued','running','awaiting_approval') ORDER BY e.id LIMIT 1))
        AND (r.lock_key IS NULL OR (r.id = (SELECT e.id FROM runs e WHERE e.lock_key = r.lock_key
            AND e.status IN ('queued','running') ORDER BY e.id LIMIT 1)
            AND NOT EXISTS (SELECT 1 FROM runs e WHERE e.lock_key = r.lock_key AND e.status = 'running')))
        ORDER BY r.priority DESC, r.id LIMIT p_limit FOR UPDATE SKIP LOCKED),
    u AS (
        UPDATE runs SET status = 'running', attempt = attempt + 1, lease = lease + 1, worker_id = p_worker,
            heartbeat_at = p_now, started_at = COALESCE(started_at, p_now), updated_by = p_worker,
            last_seq = last_seq + 1
        FROM cand WHERE runs.id = cand.id
        RETURNING runs.*),
    ins AS (
        INSERT INTO run_events (run_id, seq, workspace_id, ts, level, phase, message, data)
        SELECT u.id, u.last_seq, u.workspace_id, p_now, 'info', NULL,
            replace(replace(replace(p_message, '{attempt}', u.attempt::text), '{max_attempts}',
                u.max_attempts::text), '{worker_id}', p_worker),
            jsonb_set(p_data, '{attempt}', to_jsonb(u.attempt))
        FROM u)
    SELECT * FROM u;
END $$;

-- A heartbeat extends the leases of the runs its worker names; rows are
-- locked in id order, as completions lock them, so the two never deadlock.
CREATE FUNCTION opsroom_worker_leases_extend(p_worker text, p_now timestamptz, p_ids bigint[])
RETURNS TABLE (id bigint, cancel_requested boolean)
LANGUAGE sql SECURITY DEFINER SET opsroom.definer = 'on' AS $$
    UPDATE runs SET heartbeat_at = p_now
    WHERE runs.id IN (SELECT s.id FROM runs s WHERE s.worker_id = p_worker AND s.status = 'running'
        AND s.id = ANY(p_ids) ORDER BY s.id FOR UPDATE)
    RETURNING runs.id, runs.cancel_requested
$$;

-- Running runs whose worker stopped heartbeating, by id (the rescue then
-- writes each in its own workspace).
CREATE FUNCTION opsroom_runs_stale(p_stale_before timestamptz)
RETURNS SETOF runs LANGUAGE sql STABLE SECURITY DEFINER SET opsroom.definer = 'on' AS $$
    SELECT * FROM runs WHERE status = 'running' AND heartbeat_at < p_stale_before ORDER BY id
$$;

-- Runs per status over every workspace, for metrics.
CREATE FUNCTION opsroom_runs_count_by_status()
RETURNS TABLE (status text, count bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET opsroom.definer = 'on' AS $$
    SELECT status, count(*) FROM runs GROUP BY status
$$;

-- Workers with the runs each holds now (of any workspace).
CREATE FUNCTION opsroom_workers_list()
RETURNS TABLE (id text, host text, pid bigint, state text, concurrency int, started_at timestamptz,
    heartbeat_at timestamptz, running bigint[])
LANGUAGE sql STABLE SECURITY DEFINER SET opsroom.definer = 'on' AS $$
    SELECT w.id, w.host, w.pid, w.state, w.concurrency, w.started_at, w.heartbeat_at,
        COALESCE(array_agg(r.id ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}')
    FROM workers w LEFT JOIN runs r ON r.worker_id = w.id AND r.status = 'running'
    GROUP BY w.id ORDER BY w.heartbeat_at DESC
$$;

-- Every secret of every workspace, still sealed: a master key rotation
-- re-seals them all (each written back in its own workspace).
CREATE FUNCTION opsroom_secrets_all()
RETURNS SETOF secrets LANGUAGE sql STABLE SECURITY DEFINER SET opsroom.definer = 'on' AS $$
    SELECT * FROM secrets ORDER BY workspace_id, name
$$;

-- SECURITY DEFINER functions resolve names in this schema only, and only
-- the roles `opsroom migrate --create-role` grants may call them.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = current_schema() AND p.prosecdef AND p.proname LIKE 'opsroom\_%'
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END $$;
