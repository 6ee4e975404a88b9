-- The audit trail: every action by every credential, append-only, hash-chained per account.
-- before_json / after_json are kept as the exact text that was hashed (TEXT, not JSONB, which
-- would reorder keys).
CREATE TABLE audit_log (
    account_id    UUID NOT NULL,
    seq           BIGINT NOT NULL,
    id            UUID NOT NULL UNIQUE,
    at            TIMESTAMPTZ NOT NULL,
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

-- The head of each account's audit chain, locked (in account order) by the writer that appends.
CREATE TABLE audit_chains (
    account_id UUID PRIMARY KEY,
    seq        BIGINT NOT NULL,
    head_hash  TEXT NOT NULL
);

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION outlay_append_only();

-- Sandbox only (no [encryption] keys configured): the generated key lives here so every node of
-- one database shares it. It protects nothing against a reader of the database; production
-- refuses to start without configured keys. The newest row is the active key.
CREATE TABLE sandbox_encryption_keys (
    seq     BIGSERIAL PRIMARY KEY,
    key_id  TEXT NOT NULL UNIQUE,
    key     TEXT NOT NULL
);
