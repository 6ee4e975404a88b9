-- Reports: written in the background, kept with their content so any node can serve them.
-- A scheduled (daily) report is unique per account, kind and period, so several nodes
-- scheduling the same day write it once.
CREATE TABLE reports (
    id            UUID PRIMARY KEY,
    account_id    UUID NOT NULL REFERENCES accounts(id),
    kind          TEXT NOT NULL CHECK (kind IN ('payouts', 'balance_statement', 'fees', 'reconciliation')),
    period_start  TIMESTAMPTZ NOT NULL,
    period_end    TIMESTAMPTZ NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'failed')),
    trigger_kind  TEXT NOT NULL CHECK (trigger_kind IN ('api', 'schedule')),
    created_by    UUID,
    row_count     BIGINT,
    sha256        TEXT,
    content       BYTEA,
    file_path     TEXT,
    error         TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    lease_until   TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    completed_at  TIMESTAMPTZ,
    CONSTRAINT reports_period CHECK (period_end > period_start)
);
CREATE INDEX reports_account ON reports (account_id, created_at);
CREATE INDEX reports_pending ON reports (created_at) WHERE status = 'pending';
CREATE UNIQUE INDEX reports_schedule_once ON reports (account_id, kind, period_start, period_end)
    WHERE trigger_kind = 'schedule';
