-- Created only when missing, so a role without CREATE on the schema (the
-- restricted role `opsroom serve` may run as) finds everything applied.
DO $$ BEGIN
    IF to_regclass('opsroom_migrations') IS NULL THEN
        CREATE TABLE opsroom_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
    END IF;
END $$
