-- Two-person approvals that hold, and an audit log that cannot be rewritten.
--
-- A run that needed approval keeps how that went: `approval` is pending
-- while it waits, then approved, rejected, expired (nobody decided before
-- `approval_expires_at`) or cancelled; who decided, when, and their comment.
ALTER TABLE runs ADD COLUMN approval TEXT
    CHECK (approval IN ('pending','approved','rejected','expired','cancelled'));
ALTER TABLE runs ADD COLUMN approval_expires_at INTEGER;
ALTER TABLE runs ADD COLUMN decided_by TEXT;
ALTER TABLE runs ADD COLUMN decided_at INTEGER;
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

-- Append-only: no statement may change or remove an audit entry.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE is refused');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: DELETE is refused');
END;
