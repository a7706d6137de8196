-- A notice keeps the run's state at its transition, so that a message
-- sent later tells what happened then: an approval request fanned out
-- after the run was approved and started still says "awaiting approval".
-- NULL in notices queued before this migration (the run's current state
-- stands in for them).
ALTER TABLE run_notices ADD COLUMN status TEXT;
ALTER TABLE run_notices ADD COLUMN attempt INTEGER;
ALTER TABLE run_notices ADD COLUMN error TEXT;
ALTER TABLE run_notices ADD COLUMN started_at INTEGER;
ALTER TABLE run_notices ADD COLUMN finished_at INTEGER;

DROP TRIGGER runs_notice_insert;
DROP TRIGGER runs_notice_rescued;
DROP TRIGGER runs_notice_update;

CREATE TRIGGER runs_notice_insert AFTER INSERT ON runs
WHEN NEW.status = 'awaiting_approval'
BEGIN
    INSERT INTO run_notices (workspace_id, run_id, event, status, attempt, error, started_at, finished_at)
    VALUES (NEW.workspace_id, NEW.id, 'run.awaiting_approval', NEW.status, NEW.attempt, NEW.error,
        NEW.started_at, NEW.finished_at);
END;

CREATE TRIGGER runs_notice_rescued AFTER UPDATE OF status ON runs
WHEN OLD.status IS NOT NEW.status AND NEW.updated_by = 'rescuer'
BEGIN
    INSERT INTO run_notices (workspace_id, run_id, event, status, attempt, error, started_at, finished_at)
    VALUES (NEW.workspace_id, NEW.id, 'run.rescued', NEW.status, NEW.attempt, NEW.error,
        NEW.started_at, NEW.finished_at);
END;

CREATE TRIGGER runs_notice_update AFTER UPDATE OF status ON runs
WHEN OLD.status IS NOT NEW.status
    AND NEW.status IN ('awaiting_approval', 'running', 'succeeded', 'failed')
BEGIN
    INSERT INTO run_notices (workspace_id, run_id, event, status, attempt, error, started_at, finished_at)
    VALUES (NEW.workspace_id, NEW.id,
        CASE NEW.status WHEN 'running' THEN 'run.started' ELSE 'run.' || NEW.status END,
        NEW.status, NEW.attempt, NEW.error, NEW.started_at, NEW.finished_at);
END;
