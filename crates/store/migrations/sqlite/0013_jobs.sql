-- Durable background jobs: leased, retried with backoff, picked up again when a worker dies.
-- A job is due when queued and run_at has come, or when running and its lease has lapsed.

CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    -- Enqueuing the same (kind, dedupe_key) twice makes one job.
    dedupe_key    TEXT,
    payload       TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    run_at        INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts  INTEGER NOT NULL CHECK (max_attempts > 0),
    lease_until   INTEGER,
    -- Changes on every claim, so a worker whose lease lapsed cannot finish the job it lost.
    claim_token   TEXT,
    last_error    TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    CONSTRAINT jobs_dedupe_key UNIQUE (kind, dedupe_key)
);
CREATE INDEX jobs_queued ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX jobs_running ON jobs (lease_until) WHERE status = 'running';
