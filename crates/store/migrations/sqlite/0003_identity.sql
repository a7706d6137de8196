-- People, workspaces, tokens and sign-in sessions. Passwords are Argon2id
-- PHC strings; API tokens and UI session ids are stored only as SHA-256
-- digests (the plain values are shown once and never kept). Times are unix
-- microseconds. (Workspace scoping is the store's: every query names it.)
CREATE TABLE workspaces (
    name TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
INSERT INTO workspaces (name, created_at, created_by)
VALUES ('default', CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), 'opsroom');

CREATE TABLE users (
    name TEXT PRIMARY KEY,
    password_hash TEXT,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);

CREATE TABLE memberships (
    workspace_id TEXT NOT NULL REFERENCES workspaces(name),
    user_name TEXT NOT NULL REFERENCES users(name),
    role TEXT NOT NULL CHECK (role IN ('viewer','operator','approver','admin')),
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_name)
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    digest TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(name),
    user_name TEXT NOT NULL REFERENCES users(name),
    name TEXT,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens (workspace_id, user_name);

-- A session opened with OPSROOM_ADMIN_TOKEN (`?token=` on a UI link) is the
-- bootstrap admin's, who is no user: hence no foreign key on user_name.
CREATE TABLE ui_sessions (
    digest TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(name),
    user_name TEXT NOT NULL,
    bootstrap_admin INTEGER NOT NULL DEFAULT 0,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
