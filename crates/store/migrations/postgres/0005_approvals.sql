-- Two-person approvals that hold, and an audit log that cannot be rewritten.
--
-- A run that needed approval keeps how that went: `approval` is pending
-- while it waits, then approved, rejected, expired (nobody decided before
-- `approval_expires_at`) or cancelled; who decided, when, and their comment.
ALTER TABLE runs ADD COLUMN approval TEXT
    CHECK (approval IN ('pending','approved','rejected','expired','cancelled'));
ALTER TABLE runs ADD COLUMN approval_expires_at TIMESTAMPTZ;
ALTER TABLE runs ADD COLUMN decided_by TEXT;
ALTER TABLE runs ADD COLUMN decided_at TIMESTAMPTZ;
ALTER TABLE runs ADD COLUMN decision_comment TEXT;
UPDATE runs SET approval = CASE
    WHEN status = 'awaiting_approval' THEN 'pending'
    WHEN approved_by IS NOT NULL THEN 'approved'
    WHEN status = 'rejected' THEN 'rejected'
END, decided_by = approved_by;
-- The expiry sweep's look-up: waiting runs by deadline.
CREATE INDEX runs_approval_expiry ON runs (approval_expires_at) WHERE status = 'awaiting_approval';

-- Where a request came from (the client's address), for the audit log.
ALTER TABLE audit_log ADD COLUMN source TEXT;
CREATE INDEX audit_log_workspace_ts ON audit_log (workspace_id, ts);

-- Append-only: no statement may change or remove an audit entry, whoever runs it.
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- Runs whose approval expired, of every workspace (migration 0004_rls's
-- pattern: the expiry then rejects each in its own workspace).
CREATE FUNCTION opsroom_runs_approval_expired(p_now timestamptz)
RETURNS SETOF runs LANGUAGE sql STABLE SECURITY DEFINER SET opsroom.definer = 'on' AS $$
    SELECT * FROM runs WHERE status = 'awaiting_approval' AND approval_expires_at <= p_now
    ORDER BY approval_expires_at, id LIMIT 1000
$$;
ALTER FUNCTION opsroom_runs_approval_expired(timestamptz) SET search_path FROM CURRENT;
REVOKE ALL ON FUNCTION opsroom_runs_approval_expired(timestamptz) FROM PUBLIC;
