-- Rows that other tables reference are locked FOR NO KEY UPDATE, not FOR
-- UPDATE: no statement changes a run's or a delivery's id, and FOR UPDATE
-- conflicts with the KEY SHARE lock every foreign-key check takes. With
-- FOR UPDATE a heartbeat (locking runs 5 then 7) and a notification
-- fan-out (inserting deliveries for 7 then 5, each taking KEY SHARE on its
-- run) could deadlock; a claim skipped a run whose notice was being
-- inserted. The bodies are 0004's and 0006's otherwise.
CREATE OR REPLACE FUNCTION opsroom_runs_claim(p_now timestamptz, p_limit bigint, p_worker text,
    p_message text, p_data jsonb)
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
        ORDER BY r.priority DESC, r.id LIMIT p_limit FOR NO KEY UPDATE SKIP LOCKED),
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

CREATE OR REPLACE FUNCTION opsroom_worker_leases_extend(p_worker text, p_now timestamptz, p_ids bigint[])
RETURNS TABLE (id bigint, cancel_requested boolean)
LANGUAGE sql SECURITY DEFINER SET opsroom.definer = 'on' AS $$
    UPDATE runs SET heartbeat_at = p_now
    WHERE runs.id IN (SELECT s.id FROM runs s WHERE s.worker_id = p_worker AND s.status = 'running'
        AND s.id = ANY(p_ids) ORDER BY s.id FOR NO KEY UPDATE)
    RETURNING runs.id, runs.cancel_requested
$$;

CREATE OR REPLACE FUNCTION opsroom_notification_deliveries_claim(p_now timestamptz,
    p_until timestamptz, p_limit bigint)
RETURNS SETOF notification_deliveries LANGUAGE sql SECURITY DEFINER SET opsroom.definer = 'on' AS $$
    UPDATE notification_deliveries d SET locked_until = p_until
    WHERE d.id IN (SELECT c.id FROM notification_deliveries c
        WHERE c.state = 'pending' AND c.next_at <= p_now
        AND (c.locked_until IS NULL OR c.locked_until <= p_now)
        ORDER BY c.next_at, c.id LIMIT p_limit FOR NO KEY UPDATE SKIP LOCKED)
    RETURNING d.*
$$;

-- CREATE OR REPLACE resets each function's settings: pin the search path again.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = current_schema() AND p.prosecdef
        AND p.proname IN ('opsroom_runs_claim', 'opsroom_worker_leases_extend',
            'opsroom_notification_deliveries_claim')
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END $$;
