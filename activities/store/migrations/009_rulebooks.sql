-- Rulebook versions (Article 14; docs/rulebook-format.md) as versioned records: who entered which
-- version, when, from which source. Seeded from the package's files (domain/rulebooks/*.json,
-- entered_by = 'seed'); operators enter successors with `hotline rulebook import`. A stored version
-- never changes: the version in force at a date is the one whose effective_from is the latest on
-- or before it, and an order binds it at start for life.

CREATE TABLE IF NOT EXISTS rulebook_versions (
    id              text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9._-]*$' AND length(id) <= 64),
    effective_from  date NOT NULL UNIQUE,               -- first local (Asia/Shanghai) date it governs
    nominal_end     date CHECK (nominal_end IS NULL OR nominal_end > effective_from),
    title           text NOT NULL DEFAULT '',
    content         jsonb NOT NULL,                     -- the version as its file (Rulebook's JSON)
    digest          text NOT NULL CHECK (digest ~ '^[0-9a-f]{64}$'),  -- SHA-256 of the content, keys sorted
    entered_by      text NOT NULL CHECK (entered_by <> ''),
    entered_at      timestamptz NOT NULL DEFAULT now(),
    source          text NOT NULL CHECK (source <> ''), -- the package file, or the imported file / notice
    note            text NOT NULL DEFAULT '',
    original        text NOT NULL                       -- the file exactly as it was entered
);
