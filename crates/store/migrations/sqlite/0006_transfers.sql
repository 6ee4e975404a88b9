-- Internal transfers between an account and its connected accounts.

CREATE TABLE transfers (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts(id),
    short_reference_id  TEXT NOT NULL CONSTRAINT transfers_short_reference_key UNIQUE,
    source_account_id   TEXT NOT NULL REFERENCES accounts(id),
    target_account_id   TEXT NOT NULL REFERENCES accounts(id),
    currency            TEXT NOT NULL,
    amount              INTEGER NOT NULL CHECK (amount > 0),
    reason              TEXT,
    status              TEXT NOT NULL CHECK (status IN ('COMPLETED', 'FAILED')),
    created_at          INTEGER NOT NULL,
    completed_at        INTEGER,
    CHECK (source_account_id <> target_account_id)
);
CREATE INDEX transfers_source ON transfers (source_account_id, created_at);
CREATE INDEX transfers_target ON transfers (target_account_id, created_at);
