-- opsroom schema, PostgreSQL. Every tenant row carries workspace_id.
CREATE TABLE sessions (
    id BIGSERIAL PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE runs (
    id BIGSERIAL PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    runbook TEXT NOT NULL,
    env TEXT,
    target TEXT,
    params JSONB NOT NULL,
    text TEXT,
    plan JSONB NOT NULL,
    risk TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('awaiting_approval','queued','running','succeeded','failed','cancelled','rejected')),
    priority INT NOT NULL DEFAULT 0,
    attempt INT NOT NULL DEFAULT 0,
    max_attempts INT NOT NULL DEFAULT 1,
    run_after TIMESTAMPTZ NOT NULL,
    session_id BIGINT REFERENCES sessions(id),
    lane TEXT,
    lane_key TEXT,
    lock_key TEXT,
    idempotency_key TEXT,
    created_by TEXT NOT NULL,
    approved_by TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    worker_id TEXT,
    lease BIGINT NOT NULL DEFAULT 0,
    heartbeat_at TIMESTAMPTZ,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    timeout_secs BIGINT NOT NULL,
    error TEXT,
    phases JSONB NOT NULL DEFAULT '[]',
    last_seq BIGINT NOT NULL DEFAULT 0,
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
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    workspace_id TEXT NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    level TEXT NOT NULL,
    phase TEXT,
    message TEXT NOT NULL,
    data JSONB NOT NULL DEFAULT 'null',
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE artifacts (
    id BIGSERIAL PRIMARY KEY,
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX artifacts_run ON artifacts (run_id, id);

CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    state TEXT NOT NULL,
    concurrency INT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    details JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_workspace ON audit_log (workspace_id, id DESC);
