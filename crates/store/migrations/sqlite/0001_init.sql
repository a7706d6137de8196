-- opsroom schema, SQLite (times are unix microseconds, JSON is text). Every tenant row carries workspace_id.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    runbook TEXT NOT NULL,
    env TEXT,
    target TEXT,
    params TEXT NOT NULL,
    text TEXT,
    plan TEXT NOT NULL,
    risk TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('awaiting_approval','queued','running','succeeded','failed','cancelled','rejected')),
    priority INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 1,
    run_after INTEGER NOT NULL,
    session_id INTEGER REFERENCES sessions(id),
    lane TEXT,
    lane_key TEXT,
    lock_key TEXT,
    idempotency_key TEXT,
    created_by TEXT NOT NULL,
    approved_by TEXT,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    worker_id TEXT,
    lease INTEGER NOT NULL DEFAULT 0,
    heartbeat_at INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    timeout_secs INTEGER NOT NULL,
    error TEXT,
    phases TEXT NOT NULL DEFAULT '[]',
    last_seq INTEGER NOT NULL DEFAULT 0,
    updated_by TEXT NOT NULL
);
CREATE UNIQUE INDEX runs_idempotency ON runs (workspace_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX runs_claimable ON runs (priority DESC, id) WHERE status = 'queued';
CREATE INDEX runs_lane_open ON runs (lane_key, id) WHERE lane_key IS NOT NULL AND status IN ('queued','running','awaiting_approval');
CREATE INDEX runs_lock_open ON runs (lock_key, id) WHERE lock_key IS NOT NULL AND status IN ('queued','running');
CREATE INDEX runs_running ON runs (worker_id) WHERE status = 'running';
CREATE INDEX runs_history ON runs (workspace_id, id DESC);
CREATE INDEX runs_session ON runs (session_id, id) WHERE session_id IS NOT NULL;

CREATE TABLE run_events (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    workspace_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    level TEXT NOT NULL,
    phase TEXT,
    message TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT 'null',
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX artifacts_run ON artifacts (run_id, id);

CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    state TEXT NOT NULL,
    concurrency INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_workspace ON audit_log (workspace_id, id DESC);
