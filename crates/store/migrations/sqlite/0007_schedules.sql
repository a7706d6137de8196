-- Schedules: a cron expression in a time zone that enqueues a run at each
-- fire time (see the PostgreSQL migration of the same name for how fires
-- are enqueued once and what `skipped` holds). Times are unix microseconds.
CREATE TABLE schedules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    cron TEXT NOT NULL,
    timezone TEXT NOT NULL,
    request TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    next_fire_at INTEGER,
    last_fire_at INTEGER,
    last_run_id INTEGER,
    last_error TEXT,
    skipped_count INTEGER NOT NULL DEFAULT 0,
    skipped TEXT NOT NULL DEFAULT '[]',
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX schedules_workspace ON schedules (workspace_id, id);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE NOT paused;

-- A run enqueued by a schedule says which one and for which fire time.
ALTER TABLE runs ADD COLUMN schedule_id INTEGER;
ALTER TABLE runs ADD COLUMN scheduled_for INTEGER;
