-- Notifications of run events, delivered durably (see the PostgreSQL
-- migration of the same name). Times are unix microseconds.
--
-- A run event people are told about is queued as a notice by the database
-- itself, in the transaction that changed the run: the triggers watch the
-- one column every transition writes (`runs.status`).
CREATE TABLE run_notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    event TEXT NOT NULL
);

CREATE TABLE notification_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    notice_id INTEGER NOT NULL,
    channel TEXT NOT NULL,
    event TEXT NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    run TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending','delivered','failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    locked_until INTEGER,
    created_at INTEGER NOT NULL,
    UNIQUE (notice_id, channel)
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_at) WHERE state = 'pending';

CREATE TABLE notification_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    delivery_id INTEGER NOT NULL REFERENCES notification_deliveries(id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    event TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT,
    at INTEGER NOT NULL
);
CREATE INDEX notification_attempts_workspace ON notification_attempts (workspace_id, id DESC);

CREATE TRIGGER runs_notice_insert AFTER INSERT ON runs
WHEN NEW.status = 'awaiting_approval'
BEGIN
    INSERT INTO run_notices (workspace_id, run_id, event)
    VALUES (NEW.workspace_id, NEW.id, 'run.awaiting_approval');
END;

CREATE TRIGGER runs_notice_rescued AFTER UPDATE OF status ON runs
WHEN OLD.status IS NOT NEW.status AND NEW.updated_by = 'rescuer'
BEGIN
    INSERT INTO run_notices (workspace_id, run_id, event)
    VALUES (NEW.workspace_id, NEW.id, 'run.rescued');
END;

CREATE TRIGGER runs_notice_update AFTER UPDATE OF status ON runs
WHEN OLD.status IS NOT NEW.status
    AND NEW.status IN ('awaiting_approval', 'running', 'succeeded', 'failed')
BEGIN
    INSERT INTO run_notices (workspace_id, run_id, event)
    VALUES (NEW.workspace_id, NEW.id,
        CASE NEW.status WHEN 'running' THEN 'run.started' ELSE 'run.' || NEW.status END);
END;
