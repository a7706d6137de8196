-- A notice keeps the run's state at its transition, so that a message
-- sent later tells what happened then: an approval request fanned out
-- after the run was approved and started still says "awaiting approval".
-- NULL in notices queued before this migration (the run's current state
-- stands in for them).
ALTER TABLE run_notices ADD COLUMN status TEXT, ADD COLUMN attempt INT, ADD COLUMN error TEXT,
    ADD COLUMN started_at TIMESTAMPTZ, ADD COLUMN finished_at TIMESTAMPTZ;

CREATE OR REPLACE FUNCTION opsroom_runs_notice() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET opsroom.definer = 'on' AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status = 'awaiting_approval' THEN
            INSERT INTO run_notices (workspace_id, run_id, event, status, attempt, error, started_at, finished_at)
            VALUES (NEW.workspace_id, NEW.id, 'run.awaiting_approval', NEW.status, NEW.attempt, NEW.error,
                NEW.started_at, NEW.finished_at);
        END IF;
        RETURN NULL;
    END IF;
    IF NEW.updated_by = 'rescuer' THEN
        INSERT INTO run_notices (workspace_id, run_id, event, status, attempt, error, started_at, finished_at)
        VALUES (NEW.workspace_id, NEW.id, 'run.rescued', NEW.status, NEW.attempt, NEW.error,
            NEW.started_at, NEW.finished_at);
    END IF;
    IF NEW.status IN ('awaiting_approval', 'running', 'succeeded', 'failed') THEN
        INSERT INTO run_notices (workspace_id, run_id, event, status, attempt, error, started_at, finished_at)
        VALUES (NEW.workspace_id, NEW.id,
            CASE NEW.status WHEN 'running' THEN 'run.started' ELSE 'run.' || NEW.status END,
            NEW.status, NEW.attempt, NEW.error, NEW.started_at, NEW.finished_at);
    END IF;
    RETURN NULL;
END $$;

-- CREATE OR REPLACE resets the function's settings: pin the search path again.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION opsroom_runs_notice() SET search_path = %I, pg_temp', current_schema());
    REVOKE ALL ON FUNCTION opsroom_runs_notice() FROM PUBLIC;
END $$;
