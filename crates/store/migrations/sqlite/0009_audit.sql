-- The audit trail: every action by every credential, append-only, hash-chained per account.
-- before_json / after_json are kept as the exact text that was hashed.
CREATE TABLE audit_log (
    account_id    TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    id            TEXT NOT NULL UNIQUE,
    at            INTEGER NOT NULL,
    credential_id TEXT NOT NULL,
    role          TEXT NOT NULL,
    action        TEXT NOT NULL,
    object_type   TEXT,
    object_id     TEXT,
    source_ip     TEXT,
    user_agent    TEXT,
    request_id    TEXT,
    before_json   TEXT,
    after_json    TEXT,
    status        INTEGER NOT NULL,
    error_code    TEXT,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL,
    PRIMARY KEY (account_id, seq)
);
CREATE INDEX audit_log_account_at ON audit_log (account_id, at);
CREATE INDEX audit_log_object ON audit_log (account_id, object_id);

-- The head of each account's audit chain (a removed tail shows against it).
CREATE TABLE audit_chains (
    account_id TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL,
    head_hash  TEXT NOT NULL
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
