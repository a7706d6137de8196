-- Secrets set through the API: only the sealed (encrypted) text is stored,
-- with the id of the master key that sealed it. The key and the plaintext
-- never enter the database.
CREATE TABLE secrets (
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    sealed TEXT NOT NULL,
    key_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (workspace_id, name)
);
