-- People, workspaces, tokens and sign-in sessions. Passwords are Argon2id
-- PHC strings; API tokens and UI session ids are stored only as SHA-256
-- digests (the plain values are shown once and never kept).
CREATE TABLE workspaces (
    name TEXT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL
);
INSERT INTO workspaces (name, created_at, created_by) VALUES ('default', now(), 'opsroom');

-- Users are global; what they may do is per workspace (memberships).
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    password_hash TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL
);

CREATE TABLE memberships (
    workspace_id TEXT NOT NULL REFERENCES workspaces(name),
    user_name TEXT NOT NULL REFERENCES users(name),
    role TEXT NOT NULL CHECK (role IN ('viewer','operator','approver','admin')),
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_name)
);

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(name),
    user_name TEXT NOT NULL REFERENCES users(name),
    name TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX api_tokens_user ON api_tokens (workspace_id, user_name);

-- A session opened with OPSROOM_ADMIN_TOKEN (`?token=` on a UI link) is the
-- bootstrap admin's, who is no user: hence no foreign key on user_name.
CREATE TABLE ui_sessions (
    digest TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(name),
    user_name TEXT NOT NULL,
    bootstrap_admin BOOLEAN NOT NULL DEFAULT FALSE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

-- Row-level security on the tables with a workspace: a role without
-- BYPASSRLS sees the rows of the workspace its transaction names
-- (`opsroom.workspace`), plus, for a token or a session looked up before its
-- workspace is known, the one row whose digest the transaction names
-- (`opsroom.token_digest`).
ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY memberships_workspace ON memberships
    USING (workspace_id = current_setting('opsroom.workspace', true));

ALTER TABLE api_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY api_tokens_workspace ON api_tokens
    USING (workspace_id = current_setting('opsroom.workspace', true)
           OR digest = current_setting('opsroom.token_digest', true));

ALTER TABLE ui_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE ui_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY ui_sessions_workspace ON ui_sessions
    USING (workspace_id = current_setting('opsroom.workspace', true)
           OR digest = current_setting('opsroom.token_digest', true));
