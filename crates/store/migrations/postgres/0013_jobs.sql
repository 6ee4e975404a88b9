-- Durable background jobs: leased, retried with backoff, picked up again when a worker dies.
-- A job is due when queued and run_at has come, or when running and its lease has lapsed.
-- Claimed with FOR UPDATE SKIP LOCKED, so nodes never take the same job.

CREATE TABLE jobs (
    id            UUID PRIMARY KEY,
    kind          TEXT NOT NULL,
    -- Enqueuing the same (kind, dedupe_key) twice makes one job.
    dedupe_key    TEXT,
    payload       JSONB NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    run_at        TIMESTAMPTZ NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts  INTEGER NOT NULL CHECK (max_attempts > 0),
    lease_until   TIMESTAMPTZ,
    -- Changes on every claim, so a worker whose lease lapsed cannot finish the job it lost.
    claim_token   UUID,
    last_error    TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    CONSTRAINT jobs_dedupe_key UNIQUE (kind, dedupe_key)
);
CREATE INDEX jobs_queued ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX jobs_running ON jobs (lease_until) WHERE status = 'running';
